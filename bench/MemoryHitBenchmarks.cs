using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;

namespace CachedHttp.Benchmarks;

/// <summary>A cache hit on the in-memory backend next to its floor: a dictionary lookup plus building the response.</summary>
[BenchmarkCategory("hit")]
public class MemoryHitBenchmarks
{
    private readonly ConcurrentDictionary<string, byte[]> _floor = new();
    private HttpMessageInvoker _invoker = null!;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = Support.Body(BodySize);
        _floor[Support.Url] = body;
        var backend = new CacheBackend(new CacheOptions { ExpireAfter = Expiration.Never });
        _invoker = new HttpMessageInvoker(new CachingHandler(backend, new Support.BodyHandler(body)));
        Support.Warm(_invoker);
    }

    [GlobalCleanup]
    public void Cleanup() => _invoker.Dispose();

    [Benchmark(Baseline = true, Description = "floor: dictionary + new response")]
    public long Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        using var response = Support.BuildResponse(_floor[Support.Url], request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp memory hit")]
    public Task<long> Hit() => Support.HitAsync(_invoker);
}
