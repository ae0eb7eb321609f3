using BenchmarkDotNet.Attributes;
using CachedHttp.Sqlite;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Benchmarks;

/// <summary>
/// A cache hit on the SQLite backend next to its floor: a prepared Microsoft.Data.Sqlite SELECT of the same stored
/// bytes from the same file, plus building the response.
/// </summary>
[BenchmarkCategory("hit")]
public class SqliteHitBenchmarks
{
    private string _directory = null!;
    private SqliteBackend _backend = null!;
    private HttpMessageInvoker _invoker = null!;
    private SqliteConnection _raw = null!;
    private SqliteCommand _select = null!;

    [Params(1024, 65536, 1048576)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Support.TempDirectory();
        var path = Path.Combine(_directory, "bench.sqlite");
        var body = Support.Body(BodySize);
        _backend = new SqliteBackend(path, new CacheOptions { ExpireAfter = Expiration.Never });
        _invoker = new HttpMessageInvoker(new CachingHandler(_backend, new Support.BodyHandler(body)));
        Support.Warm(_invoker);
        string key;
        using (var request = new HttpRequestMessage(HttpMethod.Get, Support.Url))
        {
            key = _backend.CreateKey(request);
        }

        (_raw, _select) = OpenFloor(path, key);
    }

    /// <summary>The floor's own read-only connection and prepared SELECT of one key.</summary>
    internal static (SqliteConnection Connection, SqliteCommand Select) OpenFloor(string path, string key)
    {
        var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var select = connection.CreateCommand();
        select.CommandText = "SELECT value FROM responses WHERE key = $key";
        select.Parameters.AddWithValue("$key", key);
        select.Prepare();
        return (connection, select);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _select.Dispose();
        _raw.Dispose();
        _invoker.Dispose();
        _backend.Dispose();
        SqliteConnection.ClearAllPools();
        Support.DeleteQuietly(_directory);
    }

    [Benchmark(Baseline = true, Description = "floor: prepared SELECT + new response")]
    public long Floor()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        var bytes = (byte[])_select.ExecuteScalar()!;
        using var response = Support.BuildResponse(bytes, request);
        return response.Content.Headers.ContentLength ?? 0;
    }

    [Benchmark(Description = "CachedHttp SQLite hit")]
    public Task<long> Hit() => Support.HitAsync(_invoker);
}
