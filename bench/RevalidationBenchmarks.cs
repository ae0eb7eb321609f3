using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;

namespace CachedHttp.Benchmarks;

/// <summary>
/// The 304 path on the in-memory backend (Cache-Control mode, a stored <c>no-cache</c> response with an ETag, so each use
/// is a conditional request, a 304, an updated entry and the stored body served) next to its floor: the same
/// conditional GET with a plain <see cref="HttpClient"/> to the same origin, plus building a response around the
/// stored bytes from a dictionary. Neither reads the body it serves (as in the hit rows).
/// </summary>
[BenchmarkCategory("revalidation")]
public class RevalidationBenchmarks
{
    private readonly ConcurrentDictionary<string, byte[]> _floor = new();
    private HttpClient _plain = null!;
    private HttpClient _cached = null!;
    private string _url = null!;

    [Params(1024, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _url = Support.Origin.Url($"/bench/{BodySize}").AbsoluteUri + "?revalidate=1";
        _floor[_url] = Support.Body(BodySize);
        _plain = new HttpClient(Support.NetworkHandler());
        _cached = new HttpClient(new CachingHandler(new CacheBackend(new CacheOptions { CacheControl = true }), Support.NetworkHandler()));
        _cached.GetByteArrayAsync(_url).GetAwaiter().GetResult();
        if (Revalidated().GetAwaiter().GetResult() != BodySize || Floor().GetAwaiter().GetResult() != BodySize)
        {
            throw new InvalidOperationException("The revalidation rows do not serve the stored body.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _cached.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: plain conditional GET (304) + new response")]
    public async Task<long> Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _url);
        request.Headers.TryAddWithoutValidation("If-None-Match", "\"abc123\"");
        using var notModified = await _plain.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var response = Support.BuildResponse(_floor[_url], request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp 304 revalidation")]
    public async Task<long> Revalidated()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _url);
        using var response = await _cached.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return response.Content.Headers.ContentLength ?? 0;
    }
}
