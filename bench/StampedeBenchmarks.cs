using BenchmarkDotNet.Attributes;

namespace CachedHttp.Benchmarks;

/// <summary>
/// A stampede: 1,000 identical GETs started at once for a URL nobody has cached (in-memory backend), to an origin
/// that answers 1 KB after 20 ms, with at most 64 connections. The time until all are done, next to the same 1,000
/// requests with a plain <see cref="HttpClient"/>; <see cref="OriginRequests"/> counts what reached the origin.
/// </summary>
[BenchmarkCategory("stampede")]
[InvocationCount(1)]
public class StampedeBenchmarks
{
    public const int Requests = 1000;
    private HttpClient _plain = null!;
    private HttpClient _cached = null!;
    private CacheBackend _backend = null!;
    private string _url = null!;
    private int _round;

    /// <summary>Origin requests per stampede, by row, of the last stampede measured.</summary>
    public static Dictionary<string, int> OriginRequests { get; } = new(StringComparer.Ordinal);

    [GlobalSetup]
    public void Setup()
    {
        _plain = new HttpClient(Support.NetworkHandler(maxConnections: 64));
        _backend = new CacheBackend(new CacheOptions { ExpireAfter = Expiration.Never });
        _cached = new HttpClient(new CachingHandler(_backend, Support.NetworkHandler(maxConnections: 64)));
    }

    [IterationSetup]
    public void NewUrl()
    {
        // A URL of its own per stampede: nothing cached, and origin counts per URL.
        _url = Support.Origin.Url("/bench/slow/1024").AbsoluteUri + "?round=" + Interlocked.Increment(ref _round).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _backend.ClearAsync().AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _cached.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: 1,000 plain requests at once")]
    public Task Floor() => StampedeAsync(_plain, "floor");

    [Benchmark(Description = "CachedHttp: 1,000 identical requests at once")]
    public Task Stampede() => StampedeAsync(_cached, "cached");

    private async Task StampedeAsync(HttpClient client, string row)
    {
        var before = Support.Origin.TotalRequests;
        var url = _url;
        var tasks = new Task<byte[]>[Requests];
        for (var i = 0; i < Requests; i++)
        {
            tasks[i] = client.GetByteArrayAsync(url);
        }

        await Task.WhenAll(tasks);
        lock (OriginRequests)
        {
            OriginRequests[row] = Support.Origin.TotalRequests - before;
        }
    }
}
