using BenchmarkDotNet.Attributes;

namespace CachedHttp.Benchmarks;

/// <summary>
/// A cache hit on the file backend next to its floor: reading the entry's file (the same bytes, its small header
/// included) with <see cref="File.ReadAllBytesAsync(string, CancellationToken)"/>, plus building the response.
/// </summary>
[BenchmarkCategory("hit")]
public class FileHitBenchmarks
{
    private string _directory = null!;
    private string _path = null!;
    private FileBackend _backend = null!;
    private HttpMessageInvoker _invoker = null!;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Support.TempDirectory();
        var body = Support.Body(BodySize);
        _backend = new FileBackend(_directory, new CacheOptions { ExpireAfter = Expiration.Never });
        _invoker = new HttpMessageInvoker(new CachingHandler(_backend, new Support.BodyHandler(body)));
        Support.Warm(_invoker);
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        _path = ((FileCache)_backend.Responses).GetEntryPath(_backend.CreateKey(request));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _invoker.Dispose();
        _backend.Dispose();
        Support.DeleteQuietly(_directory);
    }

    [Benchmark(Baseline = true, Description = "floor: file read + new response")]
    public async Task<long> Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        var bytes = await File.ReadAllBytesAsync(_path);
        using var response = Support.BuildResponse(bytes, request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp file hit")]
    public Task<long> Hit() => Support.HitAsync(_invoker);
}
