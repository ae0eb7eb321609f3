using System.Diagnostics;
using CachedHttp.Tests.Integration.Foundation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Integration.Observability;

/// <summary>Metrics (Meter "CachedHttp"), storage spans (ActivitySource "CachedHttp") and logs, over a real origin.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ObservabilityTests : OriginFixture
{
    [Test]
    public async Task MissThenHit_CountsRequestsByResult()
    {
        using var metrics = new MetricsCollector();
        var name = "obs-" + Unique();
        using var session = Session(name);
        var path = "/json?u=" + Unique();

        (await session.GetAsync(path)).Dispose();
        (await session.GetAsync(path)).Dispose();

        metrics.For("cachedhttp.requests", name).Select(m => m.Tag("result")).Should().Equal("miss", "hit");
        metrics.For("cachedhttp.requests", name).Should().OnlyContain(m => m.Value == 1);
    }

    [Test]
    public async Task UncacheableAndRevalidated_AreCountedAsSuch()
    {
        using var metrics = new MetricsCollector();
        var name = "obs-" + Unique();
        using var session = Session(name, o => o.CacheControl = true);
        var u = Unique();

        (await session.PostAsync("/echo?u=" + u, new StringContent("x"))).Dispose();
        (await session.GetAsync("/cache/0?u=" + u)).Dispose();
        using var revalidated = await session.GetAsync("/cache/0?u=" + u);

        revalidated.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        metrics.For("cachedhttp.requests", name).Select(m => m.Tag("result")).Should().Equal("bypassed", "miss", "revalidated");
    }

    [Test]
    public async Task StorageDurationAndBytes_AreRecordedByBackendAndOperation()
    {
        using var metrics = new MetricsCollector();
        var name = "obs-" + Unique();
        using var session = Session(name);
        var path = "/bytes/3000?u=" + Unique();

        (await session.GetAsync(path)).Dispose();

        var durations = metrics.For("cachedhttp.storage.duration", name);
        durations.Select(m => m.Tag("operation")).Should().Contain(["read", "write"]);
        durations.Should().OnlyContain(m => m.Value >= 0);
        metrics.For("cachedhttp.stored.bytes", name).Sum(m => m.Value).Should().Be(3000);
    }

    [Test]
    public async Task FailingStorage_CountsErrors_AndRequestsStillSucceed()
    {
        using var metrics = new MetricsCollector();
        var name = "failing-" + Unique();
        using var session = new CachedSession(new CacheBackend(new FailingCache(name), new FailingCache(name))) { BaseAddress = Origin.BaseAddress };
        var path = "/json?u=" + Unique();

        using var first = await session.GetAsync(path);
        using var second = await session.GetAsync(path);

        first.IsSuccessStatusCode.Should().BeTrue();
        second.IsSuccessStatusCode.Should().BeTrue();
        second.IsFromCache().Should().BeFalse();
        var errors = metrics.For("cachedhttp.storage.errors", name);
        errors.Where(m => m.Tag("operation") == "read").Should().HaveCount(2).And.OnlyContain(m => m.Tag("reason") == "error");
        errors.Where(m => m.Tag("operation") == "write").Should().BeEmpty("a request whose lookup failed leaves the storage alone: it is served uncached");
        metrics.For("cachedhttp.requests", name).Select(m => m.Tag("result")).Should().Equal("bypassed", "bypassed");
    }

    [Test]
    public async Task FailingStorage_CircuitOpens_MetricsAndSpansReportItAndTheSkippedCalls()
    {
        using var metrics = new MetricsCollector();
        using var activities = new ActivityCollector();
        var name = "failing-" + Unique();
        var options = new CacheOptions { CircuitBreaker = new CircuitBreakerOptions { FailureThreshold = 2, BreakDuration = TimeSpan.FromMinutes(5) } };
        using var session = new CachedSession(new CacheBackend(new FailingCache(name), new FailingCache(name), options)) { BaseAddress = Origin.BaseAddress };

        for (var i = 0; i < 4; i++)
        {
            using var response = await session.GetAsync("/json?u=" + Unique());
            response.IsSuccessStatusCode.Should().BeTrue();
        }

        metrics.For("cachedhttp.storage.errors", name).Should().HaveCount(2);
        metrics.For("cachedhttp.storage.circuit.opened", name).Should().ContainSingle();
        metrics.For("cachedhttp.storage.circuit.open", name).Sum(m => m.Value).Should().Be(1);
        metrics.For("cachedhttp.storage.skipped", name).Should().HaveCount(2).And.OnlyContain(m => m.Tag("operation") == "read");
        metrics.For("cachedhttp.requests", name).Should().HaveCount(4).And.OnlyContain(m => m.Tag("result") == "bypassed");
        var spans = activities.For(name);
        spans.Should().HaveCount(4);
        spans.Should().ContainSingle(a => a.Events.Any(e => e.Name == "cachedhttp.circuit.opened"));
        spans.Where(a => a.Events.Any(e => e.Name == "cachedhttp.storage.skipped")).Should().HaveCount(2)
            .And.OnlyContain(a => a.Status == ActivityStatusCode.Unset, "nothing failed: the call was not made");
    }

    [Test]
    public async Task HangingStorage_TimesOut_SpanAndMetricSayTimeout()
    {
        using var metrics = new MetricsCollector();
        using var activities = new ActivityCollector();
        var name = "hanging-" + Unique();
        var options = new CacheOptions { StorageTimeout = TimeSpan.FromMilliseconds(200) };
        using var session = new CachedSession(new CacheBackend(new HangingCache(name), new HangingCache(name), options)) { BaseAddress = Origin.BaseAddress };

        using var response = await session.GetAsync("/json?u=" + Unique());

        response.IsSuccessStatusCode.Should().BeTrue();
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        metrics.For("cachedhttp.storage.errors", name).Should().ContainSingle().Which.Tag("reason").Should().Be("timeout");
        var span = activities.For(name).Should().ContainSingle().Subject;
        span.Status.Should().Be(ActivityStatusCode.Error);
        span.GetTagItem("error.type").Should().Be(typeof(TimeoutException).FullName);
        span.Events.Select(e => e.Name).Should().Contain("cachedhttp.storage.timeout");
    }

    [Test]
    public async Task StorageSpans_AreEmittedForReadsAndWrites()
    {
        using var activities = new ActivityCollector();
        var name = "obs-" + Unique();
        using var session = Session(name);
        var path = "/json?u=" + Unique();

        (await session.GetAsync(path)).Dispose();
        (await session.GetAsync(path)).Dispose();

        var spans = activities.For(name);
        spans.Select(a => a.OperationName).Should().Contain(["cachedhttp.storage.read", "cachedhttp.storage.write"]);
        spans.Count(a => a.OperationName == "cachedhttp.storage.write").Should().Be(1);
        spans.Should().OnlyContain(a => a.Source.Name == "CachedHttp" && a.Kind == ActivityKind.Internal && a.Status == ActivityStatusCode.Unset);
        spans.Should().OnlyContain(a => (string?)a.GetTagItem("operation") == (a.OperationName == "cachedhttp.storage.read" ? "read" : "write"));
    }

    [Test]
    public async Task FailingStorage_SpansHaveErrorStatus()
    {
        using var activities = new ActivityCollector();
        var name = "failing-" + Unique();
        using var session = new CachedSession(new CacheBackend(new FailingCache(name), new FailingCache(name))) { BaseAddress = Origin.BaseAddress };

        (await session.GetAsync("/json?u=" + Unique())).Dispose();

        var spans = activities.For(name);
        spans.Should().NotBeEmpty();
        spans.Should().OnlyContain(a => a.Status == ActivityStatusCode.Error && (string?)a.GetTagItem("error.type") == typeof(IOException).FullName);
    }

    [Test]
    public async Task ExpiredSweep_CountsEvictions()
    {
        using var metrics = new MetricsCollector();
        var name = "obs-" + Unique();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var backend = new CacheBackend(new NamedMemoryCache(name, clock), new NamedMemoryCache(name, clock), new CacheOptions { TimeProvider = clock, ExpireAfter = TimeSpan.FromMinutes(1) });
        using var session = new CachedSession(backend) { BaseAddress = Origin.BaseAddress };
        var u = Unique();
        (await session.GetAsync("/json?u=" + u)).Dispose();
        (await session.GetAsync("/bytes/10?u=" + u)).Dispose();

        clock.Advance(TimeSpan.FromMinutes(2));
        var deleted = await backend.DeleteExpiredResponsesAsync();

        deleted.Should().Be(2);
        var evictions = metrics.For("cachedhttp.evictions", name);
        evictions.Should().ContainSingle().Which.Tag("reason").Should().Be("expired");
        evictions[0].Value.Should().Be(2);
    }

    [Test]
    public async Task Logs_HaveFixedEventIds_AndNoUrlOrKeyAboveDebug()
    {
        var logs = new LogCollector();
        var name = "failing-" + Unique();
        using var failing = new CachedSession(new CacheBackend(new FailingCache(name), new FailingCache(name), new CacheOptions { LoggerFactory = logs })) { BaseAddress = Origin.BaseAddress };
        using var working = Session("obs-" + Unique(), o => o.LoggerFactory = logs);
        var path = "/json?secret=" + Unique();

        using var miss = await working.GetAsync(path);
        using var hit = await working.GetAsync(path);
        (await failing.GetAsync(path)).Dispose();

        var entries = logs.Entries;
        entries.Should().Contain(e => e.EventId.Id == 1 && e.Level == LogLevel.Debug && e.Message.Contains("hit", StringComparison.Ordinal));
        entries.Should().Contain(e => e.EventId.Id == 2 && e.Level == LogLevel.Warning && e.Message.Contains(name, StringComparison.Ordinal) && e.Exception is IOException);
        var key = hit.GetCacheInfo().Key!;
        entries.Where(e => e.Level > LogLevel.Debug).Should().NotBeEmpty()
            .And.OnlyContain(e => !e.Message.Contains(Origin.BaseAddress.Authority, StringComparison.Ordinal) && !e.Message.Contains("secret", StringComparison.Ordinal) && !e.Message.Contains(key, StringComparison.Ordinal));
    }

    [Test]
    public async Task DependencyInjection_UsesTheContainersLoggers()
    {
        var logs = new LogCollector();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(logs);
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var path = "/json?u=" + Unique();

        (await provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin").GetAsync(path)).Dispose();

        logs.Entries.Should().Contain(e => e.EventId.Id == 100 && e.Level == LogLevel.Information && e.Message.Contains("'origin'", StringComparison.Ordinal));
        logs.Entries.Should().Contain(e => e.EventId.Id == 101 && e.Level == LogLevel.Debug);
        logs.Entries.Should().Contain(e => e.EventId.Id == 1 && e.Category == "CachedHttp");
    }

    private CachedSession Session(string storageName, Action<CacheOptions>? configure = null)
    {
        var options = new CacheOptions();
        configure?.Invoke(options);
        var backend = new CacheBackend(new NamedMemoryCache(storageName, options.TimeProvider), new NamedMemoryCache(storageName, options.TimeProvider), options);
        return new CachedSession(backend) { BaseAddress = Origin.BaseAddress };
    }
}
