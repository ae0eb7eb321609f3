using BenchmarkDotNet.Attributes;
using CachedHttp.Sqlite;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Benchmarks;

/// <summary>
/// A cache hit on the SQLite backend next to its floor: a prepared Microsoft.Data.Sqlite SELECT of the same stored
/// bytes from the same file, plus building the response.
/// </summary>
public class SqliteHitBenchmarks
{
    private const string Url = "http://bench.local/items/42?page=1";
    private string _directory = null!;
    private SqliteBackend _backend = null!;
    private HttpMessageInvoker _invoker = null!;
    private SqliteConnection _raw = null!;
    private SqliteCommand _select = null!;
    private string _key = null!;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "cachedhttp-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        var path = Path.Combine(_directory, "bench.sqlite");
        var body = Support.Body(BodySize);
        _backend = new SqliteBackend(path, new CacheOptions { ExpireAfter = Expiration.Never });
        _invoker = new HttpMessageInvoker(new CachingHandler(_backend, new Support.BodyHandler(body)));
        using (var request = new HttpRequestMessage(HttpMethod.Get, Url))
        {
            _key = _backend.CreateKey(request);
        }

        using var warm = _invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, Url), CancellationToken.None).GetAwaiter().GetResult();
        warm.Content.LoadIntoBufferAsync().GetAwaiter().GetResult();

        _raw = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        _raw.Open();
        _select = _raw.CreateCommand();
        _select.CommandText = "SELECT value FROM responses WHERE key = $key";
        _select.Parameters.AddWithValue("$key", _key);
        _select.Prepare();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _select.Dispose();
        _raw.Dispose();
        _invoker.Dispose();
        _backend.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "floor: prepared SELECT + new response")]
    public long Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        var bytes = (byte[])_select.ExecuteScalar()!;
        using var response = Support.BuildResponse(bytes, request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp SQLite hit")]
    public async Task<long> Hit()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        using var response = await _invoker.SendAsync(request, CancellationToken.None);
        return response.Content.Headers.ContentLength ?? 0;
    }
}
