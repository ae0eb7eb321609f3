using System.Diagnostics;
using System.Net;
using CachedHttp.Internal;
using CachedHttp.Redis;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.Observability;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>
/// The circuit breaker over a real Redis (a dedicated redis-server of the test's own): killed mid-run, requests keep
/// succeeding from the origin and the circuit opens; restarted, caching resumes once the break is over.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RedisCircuitBreakerTests
{
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(2);

    private TestOrigin _origin = null!;

    [OneTimeSetUp]
    public async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public async Task StopOrigin() => await _origin.DisposeAsync();

    [Test]
    public async Task Outage_ServerKilled_CircuitOpens_ThenServerRestarted_CachingResumesAfterTheBreak()
    {
        await using var server = await DedicatedRedisServer.StartAsync();
        using var metrics = new MetricsCollector();
        var options = new CacheOptions
        {
            StorageTimeout = TimeSpan.FromSeconds(1),
            CircuitBreaker = new CircuitBreakerOptions { FailureThreshold = 2, BreakDuration = BreakDuration },
        };
        var redisOptions = new RedisCacheOptions
        {
            KeyPrefix = "cachedhttp-breaker-" + Guid.NewGuid().ToString("N")[..8],
            OperationTimeout = TimeSpan.FromSeconds(1),
            ConnectTimeout = TimeSpan.FromSeconds(1),
        };
        await using var backend = new RedisBackend(server.Configuration, options, redisOptions);
        using var session = new CachedSession(backend) { BaseAddress = _origin.BaseAddress };
        var cached = Path();
        (await GetAsync(session, cached)).FromCache.Should().BeFalse();
        (await GetAsync(session, cached)).FromCache.Should().BeTrue();

        server.Kill();
        var during = new List<(bool FromCache, CacheStatus Status)>();
        for (var i = 0; i < 6; i++)
        {
            during.Add(await GetAsync(session, i == 0 ? cached : Path()));
        }

        during.Should().OnlyContain(r => !r.FromCache && r.Status == CacheStatus.Bypassed, "every request succeeds from the origin");
        _origin.Requests(cached).Should().Be(2);
        backend.Breaker!.State.Should().Be(CircuitState.Open);
        metrics.For("cachedhttp.storage.circuit.opened", "redis").Should().NotBeEmpty();
        metrics.For("cachedhttp.storage.skipped", "redis").Should().NotBeEmpty("requests after the circuit opened skipped the storage");

        await server.RestartAsync();
        await WaitUntilConnectedAsync(backend.Connection);
        var watch = Stopwatch.StartNew();
        var hit = false;
        while (!hit && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            var path = Path();
            await GetAsync(session, path);
            hit = (await GetAsync(session, path)).FromCache;
            if (!hit)
            {
                await Task.Delay(200);
            }
        }

        TestContext.Out.WriteLine($"caching resumed {watch.Elapsed.TotalMilliseconds:0} ms after Redis reconnected");
        hit.Should().BeTrue("after the break a trial call succeeds and closes the circuit");
        backend.Breaker.State.Should().Be(CircuitState.Closed);
    }

    private static string Path() => "/echo/" + Guid.NewGuid().ToString("N")[..12];

    private static async Task<(bool FromCache, CacheStatus Status)> GetAsync(CachedSession session, string path)
    {
        using var response = await session.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Contain(path);
        return (response.IsFromCache(), response.GetCacheInfo().Status);
    }

    private static async Task WaitUntilConnectedAsync(IConnectionMultiplexer connection)
    {
        var watch = Stopwatch.StartNew();
        while (!connection.IsConnected)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(20))
            {
                Assert.Fail("The connection did not reconnect within 20 s.");
            }

            await Task.Delay(100);
        }
    }
}
