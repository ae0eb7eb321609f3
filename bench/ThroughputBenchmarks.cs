using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using CachedHttp.Sqlite;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Benchmarks;

/// <summary>
/// Throughput of hits with 32 concurrent callers (1 KB bodies): the time per request, amortized, of 32 tasks each making
/// 32 requests, next to the same callers doing the floor plus building the response.
/// </summary>
public abstract class ThroughputBenchmarks
{
    public const int Callers = 32;
    protected const int PerCaller = 32;
    protected const int Operations = Callers * PerCaller;
    protected const int BodySize = 1024;

    protected static Task RunAsync(Func<int, Task> operation)
    {
        var callers = new Task[Callers];
        for (var caller = 0; caller < Callers; caller++)
        {
            var id = caller;
            callers[caller] = Task.Run(async () =>
            {
                for (var i = 0; i < PerCaller; i++)
                {
                    await operation(id);
                }
            });
        }

        return Task.WhenAll(callers);
    }
}

/// <summary>Throughput of memory hits with 32 callers; the floor is a dictionary lookup plus building the response.</summary>
[BenchmarkCategory("throughput")]
public class MemoryThroughputBenchmarks : ThroughputBenchmarks
{
    private readonly ConcurrentDictionary<string, byte[]> _floor = new();
    private HttpMessageInvoker _memory = null!;

    [GlobalSetup]
    public void Setup()
    {
        var body = Support.Body(BodySize);
        _floor[Support.Url] = body;
        _memory = new HttpMessageInvoker(new CachingHandler(new CacheBackend(new CacheOptions { ExpireAfter = Expiration.Never }), new Support.BodyHandler(body)));
        Support.Warm(_memory);
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "floor: 32 callers, dictionary + new response")]
    public Task Floor() => RunAsync(_ =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        using var response = Support.BuildResponse(_floor[Support.Url], request);
        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "CachedHttp memory hits, 32 callers")]
    public Task Hits() => RunAsync(_ => Support.HitAsync(_memory));
}

/// <summary>Throughput of SQLite hits with 32 callers; the floor gives each caller its own connection and prepared SELECT.</summary>
[BenchmarkCategory("throughput")]
public class SqliteThroughputBenchmarks : ThroughputBenchmarks
{
    private string _directory = null!;
    private HttpMessageInvoker _sqlite = null!;
    private SqliteBackend _backend = null!;
    private (SqliteConnection Connection, SqliteCommand Select)[] _raw = null!;

    [GlobalSetup]
    public void Setup()
    {
        var body = Support.Body(BodySize);
        _directory = Support.TempDirectory();
        var path = Path.Combine(_directory, "bench.sqlite");
        _backend = new SqliteBackend(path, new CacheOptions { ExpireAfter = Expiration.Never });
        _sqlite = new HttpMessageInvoker(new CachingHandler(_backend, new Support.BodyHandler(body)));
        Support.Warm(_sqlite);
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        var key = _backend.CreateKey(request);
        _raw = Enumerable.Range(0, Callers).Select(_ => SqliteHitBenchmarks.OpenFloor(path, key)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (connection, select) in _raw)
        {
            select.Dispose();
            connection.Dispose();
        }

        _sqlite.Dispose();
        _backend.Dispose();
        SqliteConnection.ClearAllPools();
        Support.DeleteQuietly(_directory);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "floor: 32 callers, SELECT + new response")]
    public Task Floor() => RunAsync(caller =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Support.Url);
        using var response = Support.BuildResponse((byte[])_raw[caller].Select.ExecuteScalar()!, request);
        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "CachedHttp SQLite hits, 32 callers")]
    public Task Hits() => RunAsync(_ => Support.HitAsync(_sqlite));
}
