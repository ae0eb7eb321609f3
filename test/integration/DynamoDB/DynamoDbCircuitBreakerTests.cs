using System.Diagnostics;
using System.Net;
using CachedHttp.DynamoDB;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.Observability;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>
/// A DynamoDB server that stops answering (a dynalite process of the test's own, frozen with SIGSTOP): each request
/// is answered from the origin within about the storage timeout, the circuit breaker then skips the storage, and
/// once the server runs again (SIGCONT) and the break is over, caching resumes.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbCircuitBreakerTests
{
    private static readonly TimeSpan StorageTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(3);

    private TestOrigin _origin = null!;

    [OneTimeSetUp]
    public async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public async Task StopOrigin() => await _origin.DisposeAsync();

    [Test]
    public async Task Request_DynaliteFrozen_EachRequestEndsAtTheTimeout_ThenTheBreakerSkipsStorage_ThenCachingResumes()
    {
        await using var dynalite = await DynaliteProcess.StartOrIgnoreAsync();
        using var metrics = new MetricsCollector();
        var name = "dynamodb";
        var options = new CacheOptions
        {
            StorageTimeout = StorageTimeout,
            CircuitBreaker = new CircuitBreakerOptions { FailureThreshold = 2, BreakDuration = BreakDuration },
        };
        using var backend = new DynamoDbBackend(
            new DynamoDbCacheOptions
            {
                TableName = "cachedhttp-breaker-" + Guid.NewGuid().ToString("N")[..8],
                ServiceUrl = dynalite.Url,
                Region = "us-east-1",
                Credentials = DynamoDbServer.Credentials,

                // The SDK would wait this long for a frozen server: the storage timeout must cut it far sooner.
                OperationTimeout = TimeSpan.FromSeconds(60),
            },
            options);
        using var session = new CachedSession(backend) { BaseAddress = _origin.BaseAddress };

        // Creating the table (on first use) can take longer than the storage timeout on a busy machine: do it outside the
        // request path, then wait until a response is cached.
        await backend.Responses.ContainsAsync("warm-up");
        var (cached, _) = await WaitForHitAsync(session);

        await dynalite.PauseAsync();
        try
        {
            // Frozen: the first two requests each wait for one storage timeout, then the circuit opens.
            var first = await GetAsync(session, cached);
            var second = await GetAsync(session, Path());
            TestContext.Out.WriteLine($"frozen: {first.Elapsed.TotalMilliseconds:0} ms, {second.Elapsed.TotalMilliseconds:0} ms");
            first.FromCache.Should().BeFalse();
            second.FromCache.Should().BeFalse();
            first.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15), "about the 1 s storage timeout, not the SDK's 60 s");
            second.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15));
            backend.Breaker!.State.Should().Be(Internal.CircuitState.Open);
            metrics.For("cachedhttp.storage.errors", name).Where(m => m.Tag("reason") == "timeout").Should().NotBeEmpty();

            // Open: the storage is not called at all.
            var skipped = await GetAsync(session, Path());
            skipped.FromCache.Should().BeFalse();
            skipped.Status.Should().Be(CacheStatus.Bypassed);
            _origin.Requests(cached).Should().Be(2);
        }
        finally
        {
            await dynalite.ResumeAsync();
        }

        // Running again: after the break one trial call closes the circuit and responses are cached again.
        var (_, recovered) = await WaitForHitAsync(session);
        TestContext.Out.WriteLine($"caching resumed {recovered.TotalMilliseconds:0} ms after SIGCONT");
        backend.Breaker!.State.Should().Be(Internal.CircuitState.Closed);
        (await GetAsync(session, cached)).FromCache.Should().BeTrue("dynalite kept the entry stored before the outage");
    }

    private static string Path() => "/echo/" + Guid.NewGuid().ToString("N")[..12];

    private static async Task<(bool FromCache, CacheStatus Status, TimeSpan Elapsed)> GetAsync(CachedSession session, string path)
    {
        var watch = Stopwatch.StartNew();
        using var response = await session.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        watch.Stop();
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Contain(path);
        return (response.IsFromCache(), response.GetCacheInfo().Status, watch.Elapsed);
    }

    /// <summary>Sends pairs of requests to new URLs until the second of a pair is a hit; fails after 60 s.</summary>
    /// <returns>The path that was a hit, and how long it took.</returns>
    private async Task<(string Path, TimeSpan Elapsed)> WaitForHitAsync(CachedSession session)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            var path = Path();
            await GetAsync(session, path);
            if ((await GetAsync(session, path)).FromCache)
            {
                _origin.Requests(path).Should().Be(1);
                return (path, watch.Elapsed);
            }

            await Task.Delay(250);
        }

        Assert.Fail("Responses were not cached within 60 s.");
        return (string.Empty, watch.Elapsed);
    }
}
