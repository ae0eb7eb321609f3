using BenchmarkDotNet.Attributes;

namespace CachedHttp.Benchmarks;

/// <summary>
/// Miss-and-store on the in-memory backend next to its floor: the same GET (a new URL each time, so every request is
/// a miss) with a plain <see cref="HttpClient"/> to the same local Kestrel origin. Both read the body whole.
/// </summary>
[BenchmarkCategory("miss")]
public class MissAndStoreBenchmarks
{
    private HttpClient _plain = null!;
    private HttpClient _cached = null!;
    private CacheBackend _backend = null!;
    private string _url = null!;
    private long _counter;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _url = Support.Origin.Url($"/bench/{BodySize}").AbsoluteUri + "?i=";
        _plain = new HttpClient(Support.NetworkHandler());
        _backend = new CacheBackend(new CacheOptions { ExpireAfter = Expiration.Never });
        _cached = new HttpClient(new CachingHandler(_backend, Support.NetworkHandler()));
        _plain.GetByteArrayAsync(_url + "warm").GetAwaiter().GetResult();
        _cached.GetByteArrayAsync(_url + "warm").GetAwaiter().GetResult();
    }

    [IterationCleanup]
    public void Clear() => _backend.ClearAsync().AsTask().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _cached.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: plain HttpClient GET")]
    public Task<long> Floor() => GetAsync(_plain);

    [Benchmark(Description = "CachedHttp memory miss + store")]
    public Task<long> MissAndStore() => GetAsync(_cached);

    private async Task<long> GetAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _url + Interlocked.Increment(ref _counter).ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        return response.Content.Headers.ContentLength ?? 0;
    }
}
