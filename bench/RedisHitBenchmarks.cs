using BenchmarkDotNet.Attributes;
using CachedHttp.Redis;
using StackExchange.Redis;

namespace CachedHttp.Benchmarks;

/// <summary>
/// A cache hit on the Redis backend next to its floor: a StackExchange.Redis GET of the same stored bytes on the same
/// connection, plus building the response. Needs CACHEDHTTP_REDIS (skipped with a printed reason otherwise).
/// </summary>
[BenchmarkCategory("hit", "redis")]
public class RedisHitBenchmarks
{
    private RedisBackend _backend = null!;
    private HttpMessageInvoker _invoker = null!;
    private IDatabase _database = null!;
    private RedisKey _key;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var connection = Support.Servers.Redis;
        var body = Support.Body(BodySize);
        _backend = new RedisBackend(connection, new CacheOptions { ExpireAfter = Expiration.Never }, new RedisCacheOptions { KeyPrefix = "cachedhttp-bench-" + Guid.NewGuid().ToString("N")[..8] });
        _invoker = new HttpMessageInvoker(new CachingHandler(_backend, new Support.BodyHandler(body)));
        Support.Warm(_invoker);
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        _key = ((RedisCache)_backend.Responses).GetRedisKey(_backend.CreateKey(request));
        _database = connection.GetDatabase();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _backend.ClearAsync().AsTask().GetAwaiter().GetResult();
        _invoker.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: SE.Redis GET + new response")]
    public async Task<long> Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        var bytes = (byte[])(await _database.StringGetAsync(_key))!;
        using var response = Support.BuildResponse(bytes, request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp Redis hit")]
    public Task<long> Hit() => Support.HitAsync(_invoker);
}
