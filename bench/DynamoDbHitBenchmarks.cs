using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using BenchmarkDotNet.Attributes;
using CachedHttp.DynamoDB;

namespace CachedHttp.Benchmarks;

/// <summary>
/// A cache hit on the DynamoDB backend (dynalite) next to its floor: a raw GetItem of the stored item on the same client
/// (and, for a value over one item's 350 KB chunk, one BatchGetItem of its chunk items, as any reader of a value that
/// size needs), plus building the response. Needs CACHEDHTTP_DYNAMODB_URL (skipped with a printed reason otherwise).
/// </summary>
[BenchmarkCategory("hit", "dynamodb")]
public class DynamoDbHitBenchmarks
{
    private AmazonDynamoDBClient _client = null!;
    private DynamoDbBackend _backend = null!;
    private HttpMessageInvoker _invoker = null!;
    private GetItemRequest _get = null!;
    private string _chunkPrefix = null!;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _client = Support.Servers.CreateDynamoDbClient();
        var body = Support.Body(BodySize);
        var table = "cachedhttp-bench-" + Guid.NewGuid().ToString("N")[..8];
        _backend = new DynamoDbBackend(_client, new CacheOptions { ExpireAfter = Expiration.Never }, new DynamoDbCacheOptions { TableName = table });
        _invoker = new HttpMessageInvoker(new CachingHandler(_backend, new Support.BodyHandler(body)));
        Support.Warm(_invoker);
        var store = (DynamoDbCache)_backend.Responses;
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        var key = store.StoreName + ":" + _backend.CreateKey(request);
        _get = new GetItemRequest { TableName = table, Key = new() { ["k"] = new AttributeValue { S = key } }, ConsistentRead = true };
        _chunkPrefix = store.StoreName + "#";
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _invoker.Dispose();
        _backend.Dispose();
        _client.DeleteTableAsync(_get.TableName).GetAwaiter().GetResult();
        _client.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: GetItem + new response")]
    public async Task<long> Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        var head = (await _client.GetItemAsync(_get)).Item;
        var first = head["v"].B;
        byte[] bytes;
        if (head.TryGetValue("w", out var writeId) && int.Parse(head["n"].N, System.Globalization.CultureInfo.InvariantCulture) is var count and > 1)
        {
            var keys = Enumerable.Range(1, count - 1).Select(i => _chunkPrefix + writeId.S + "#" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var batch = await _client.BatchGetItemAsync(new BatchGetItemRequest
            {
                RequestItems = new() { [_get.TableName] = new KeysAndAttributes { Keys = keys.Select(k => new Dictionary<string, AttributeValue> { ["k"] = new AttributeValue { S = k } }).ToList() } },
            });
            var chunks = batch.Responses[_get.TableName].ToDictionary(item => item["k"].S, item => item["v"].B);
            bytes = new byte[long.Parse(head["size"].N, System.Globalization.CultureInfo.InvariantCulture)];
            var offset = (int)first.Length;
            first.Position = 0;
            first.ReadExactly(bytes, 0, offset);
            foreach (var chunkKey in keys)
            {
                var chunk = chunks[chunkKey];
                chunk.Position = 0;
                chunk.ReadExactly(bytes, offset, (int)chunk.Length);
                offset += (int)chunk.Length;
            }
        }
        else
        {
            bytes = first.ToArray();
        }

        using var response = Support.BuildResponse(bytes, request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp DynamoDB hit")]
    public Task<long> Hit() => Support.HitAsync(_invoker);
}
