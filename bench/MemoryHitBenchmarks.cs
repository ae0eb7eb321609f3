using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;

namespace CachedHttp.Benchmarks;

/// <summary>A cache hit on the in-memory backend next to its floor: a dictionary lookup plus building the response.</summary>
public class MemoryHitBenchmarks
{
    private const string Url = "http://bench.local/items/42?page=1";
    private readonly ConcurrentDictionary<string, byte[]> _floor = new();
    private HttpMessageInvoker _invoker = null!;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = Support.Body(BodySize);
        _floor[Url] = body;
        var backend = new CacheBackend(new CacheOptions { ExpireAfter = Expiration.Never });
        _invoker = new HttpMessageInvoker(new CachingHandler(backend, new Support.BodyHandler(body)));
        using var warm = _invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, Url), CancellationToken.None).GetAwaiter().GetResult();
        warm.Content.LoadIntoBufferAsync().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "floor: dictionary + new response")]
    public long Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        using var response = Support.BuildResponse(_floor[Url], request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp memory hit")]
    public async Task<long> Hit()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        using var response = await _invoker.SendAsync(request, CancellationToken.None);
        return response.Content.Headers.ContentLength ?? 0;
    }
}
