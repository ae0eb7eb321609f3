using System.Collections.Concurrent;
using System.Net;
using CachedHttp.Internal;
using CachedHttp.Tests.Unit.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit;

/// <summary>
/// A storage that hangs, throws or recovers, on the request path: each request is answered within the storage
/// timeout, the circuit breaker stops calling a failing storage and lets one trial through after its break, and every
/// bypass is logged and counted. Time is a fake clock, advanced by the tests.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class StorageFaultTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Break = TimeSpan.FromSeconds(30);

    private static int _urls;

    private static string NewUrl() => "https://example.com/faults/" + Interlocked.Increment(ref _urls);

    private static TestCache Create(FaultyStore? store = null, Action<CacheOptions>? configure = null, int threshold = 3, LogRecorder? logs = null)
        => new(
            o =>
            {
                o.StorageTimeout = Timeout;
                o.CircuitBreaker = new CircuitBreakerOptions { FailureThreshold = threshold, BreakDuration = Break };
                o.LoggerFactory = logs;
                configure?.Invoke(o);
            },
            backend: o => new CacheBackend(store ?? new FaultyStore(o.TimeProvider), new InMemoryCache(o.TimeProvider), o));

    /// <summary>Advances the fake clock in steps until the task completes (the timeout's timer starts just after the storage call).</summary>
    private static async Task<T> AdvanceUntilDoneAsync<T>(FakeTimeProvider time, Task<T> task, TimeSpan step)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!task.IsCompleted)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("The request did not complete: it waits for the hung storage.");
            }

            time.Advance(step);
            await Task.WhenAny(task, Task.Delay(10));
        }

        return await task;
    }

    private static async Task OpenCircuitAsync(TestCache cache, FaultyStore store, int threshold = 3)
    {
        store.Fault = StoreFault.Throws;
        for (var i = 0; i < threshold; i++)
        {
            await cache.GetAsync(NewUrl());
        }

        cache.Backend.Breaker!.State.Should().Be(CircuitState.Open);
    }

    [Test]
    public async Task SendAsync_StorageHangsIgnoringItsToken_ServedFromTheNetworkAtTheTimeout()
    {
        var store = new FaultyStore { Fault = StoreFault.Hangs };
        using var metrics = new MetricsRecorder(store.Name);
        using var cache = Create(store);
        var url = NewUrl();
        var started = cache.Time.GetUtcNow();

        var pending = cache.GetAsync(url);
        await Task.Delay(20);
        pending.IsCompleted.Should().BeFalse("the storage hangs and the clock has not moved");
        var (response, body) = await AdvanceUntilDoneAsync(cache.Time, pending, TimeSpan.FromMilliseconds(250));

        (cache.Time.GetUtcNow() - started).Should().BeGreaterThanOrEqualTo(Timeout);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Be("body of " + url);
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        response.GetCacheInfo().Stored.Should().BeFalse();
        metrics.Sum("cachedhttp.storage.errors", ("operation", "read"), ("reason", "timeout")).Should().Be(1);
        metrics.Tags("cachedhttp.requests", "result").Should().Equal("bypassed");
    }

    [Test]
    public async Task SendAsync_StorageHangsHonouringItsToken_TheTokenIsCancelledAtTheTimeout()
    {
        var store = new FaultyStore { Fault = StoreFault.HangsUntilCancelled };
        using var cache = Create(store);

        var (response, _) = await AdvanceUntilDoneAsync(cache.Time, cache.GetAsync(NewUrl()), TimeSpan.FromMilliseconds(250));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        store.HungTokens.Should().ContainSingle().Which.IsCancellationRequested.Should().BeTrue();
    }

    [Test]
    public async Task SendAsync_StorageHangs_OneTimeoutPerRequestAndNothingStored()
    {
        var store = new FaultyStore { Fault = StoreFault.Hangs };
        using var cache = Create(store, threshold: 100);

        for (var i = 0; i < 3; i++)
        {
            var (response, _) = await AdvanceUntilDoneAsync(cache.Time, cache.GetAsync(NewUrl()), TimeSpan.FromMilliseconds(250));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        store.Calls.Should().Be(3, "after its lookup timed out a request neither looks up again nor saves");
        cache.Backend.Breaker!.ConsecutiveFailures.Should().Be(3);
    }

    [Test]
    public async Task SendAsync_FailuresReachTheThreshold_CircuitOpensAndStorageIsNotCalledDuringTheBreak()
    {
        var store = new FaultyStore { Fault = StoreFault.Throws };
        using var metrics = new MetricsRecorder(store.Name);
        using var cache = Create(store, threshold: 3);

        for (var i = 0; i < 3; i++)
        {
            (await cache.GetAsync(NewUrl())).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        store.Calls.Should().Be(3);
        cache.Backend.Breaker!.State.Should().Be(CircuitState.Open);
        metrics.Sum("cachedhttp.storage.circuit.opened").Should().Be(1);
        metrics.Sum("cachedhttp.storage.circuit.open").Should().Be(1);

        for (var i = 0; i < 5; i++)
        {
            cache.Time.Advance(TimeSpan.FromSeconds(5));
            var url = NewUrl();
            var (response, body) = await cache.GetAsync(url);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            body.Should().Be("body of " + url);
            response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        }

        store.Calls.Should().Be(3, "an open circuit skips the storage entirely");
        metrics.Sum("cachedhttp.storage.skipped", ("operation", "read")).Should().Be(5);
        metrics.Sum("cachedhttp.storage.errors", ("reason", "error")).Should().Be(3);
        metrics.Tags("cachedhttp.requests", "result").Should().HaveCount(8).And.OnlyContain(r => r == "bypassed");
    }

    [Test]
    public async Task SendAsync_BreakOver_TrialSucceeds_CircuitClosesAndCachingResumes()
    {
        var store = new FaultyStore();
        using var metrics = new MetricsRecorder(store.Name);
        var logs = new LogRecorder();
        using var cache = Create(store, o => o.ExpireAfter = TimeSpan.FromHours(1), logs: logs);
        await OpenCircuitAsync(cache, store);
        store.Fault = StoreFault.None;
        var url = NewUrl();

        cache.Time.Advance(Break - TimeSpan.FromSeconds(1));
        (await cache.GetAsync(url)).Response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed, "the break is not over");
        cache.Time.Advance(TimeSpan.FromSeconds(1));
        var (first, _) = await cache.GetAsync(url);
        var (second, body) = await cache.GetAsync(url);

        first.GetCacheInfo().Status.Should().Be(CacheStatus.Miss, "the trial lookup succeeded: the response is stored");
        second.IsFromCache().Should().BeTrue();
        body.Should().Be("body of " + url);
        cache.Stub.CallCount(url).Should().Be(2);
        cache.Backend.Breaker!.State.Should().Be(CircuitState.Closed);
        metrics.Sum("cachedhttp.storage.circuit.open").Should().Be(0);
        logs.EventIds.Should().ContainInOrder(9, 11, 12, 10);
    }

    [Test]
    public async Task SendAsync_BreakOver_TrialFails_CircuitReopensForAnotherBreak()
    {
        var store = new FaultyStore();
        using var metrics = new MetricsRecorder(store.Name);
        using var cache = Create(store);
        await OpenCircuitAsync(cache, store);
        var calls = store.Calls;

        cache.Time.Advance(Break);
        (await cache.GetAsync(NewUrl())).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        store.Calls.Should().Be(calls + 1, "one trial call");
        cache.Backend.Breaker!.State.Should().Be(CircuitState.Open);

        cache.Time.Advance(Break - TimeSpan.FromSeconds(1));
        (await cache.GetAsync(NewUrl())).Response.StatusCode.Should().Be(HttpStatusCode.OK);

        store.Calls.Should().Be(calls + 1, "the break started again at the failed trial");
        metrics.Sum("cachedhttp.storage.circuit.opened").Should().Be(2);
        metrics.Sum("cachedhttp.storage.circuit.open").Should().Be(1, "a reopened circuit is still one open circuit");
    }

    [Test]
    public async Task SendAsync_ManyParallelRequestsWhileOpen_NoStorageCalls()
    {
        var store = new FaultyStore();
        using var cache = Create(store);
        await OpenCircuitAsync(cache, store);
        var calls = store.Calls;

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => cache.GetAsync(i % 2 == 0 ? NewUrl() : "https://example.com/faults/shared"))));

        responses.Should().OnlyContain(r => r.Response.StatusCode == HttpStatusCode.OK);
        store.Calls.Should().Be(calls);
    }

    [Test]
    public async Task SendAsync_HandlersSharingABackend_ShareTheCircuit()
    {
        var store = new FaultyStore();
        using var cache = Create(store);
        using var other = new HttpClient(new CachingHandler(cache.Backend, new StubHandler()));
        await OpenCircuitAsync(cache, store);
        var calls = store.Calls;

        using var response = await other.GetAsync(NewUrl());

        response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        store.Calls.Should().Be(calls);
    }

    [TestCase(StoreFault.Hangs)]
    [TestCase(StoreFault.HangsUntilCancelled)]
    public async Task SendAsync_CallerCancelsDuringAHungLookup_ThrowsCancellationAndNothingIsCounted(StoreFault fault)
    {
        var store = new FaultyStore { Fault = fault };
        using var metrics = new MetricsRecorder(store.Name);
        using var cache = Create(store, threshold: 1);
        using var cancellation = new CancellationTokenSource();

        var pending = cache.GetAsync(NewUrl(), cancellationToken: cancellation.Token);
        await Eventually.Until(() => store.Calls == 1, "the lookup has started");
        await cancellation.CancelAsync();

        (await FluentActions.Awaiting(() => pending).Should().ThrowAsync<OperationCanceledException>())
            .Which.CancellationToken.Should().Be(cancellation.Token);
        cache.Stub.TotalCalls.Should().Be(0, "a cancelled request does not go on to the network");
        cache.Backend.Breaker!.State.Should().Be(CircuitState.Closed, "a cancelled call is no storage failure");
        cache.Backend.Breaker.ConsecutiveFailures.Should().Be(0);
        metrics.Sum("cachedhttp.storage.errors").Should().Be(0);
    }

    [Test]
    public async Task Send_StorageHangs_SyncPathServedFromTheNetworkAtTheTimeout()
    {
        var store = new FaultyStore { Fault = StoreFault.Hangs };
        using var cache = Create(store);
        var url = NewUrl();

        var pending = Task.Run(() =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            return cache.Client.Send(request);
        });
        using var response = await AdvanceUntilDoneAsync(cache.Time, pending, TimeSpan.FromMilliseconds(250));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        cache.Stub.CallCount(url).Should().Be(1);
    }

    [Test]
    public async Task Send_CircuitOpen_SyncPathSkipsTheStorage()
    {
        var store = new FaultyStore();
        using var cache = Create(store);
        await OpenCircuitAsync(cache, store);
        var calls = store.Calls;

        using var request = new HttpRequestMessage(HttpMethod.Get, NewUrl());
        using var response = cache.Client.Send(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        store.Calls.Should().Be(calls);
    }

    [Test]
    public async Task SendAsync_BreakerDisabled_EveryRequestCallsTheStorage()
    {
        var store = new FaultyStore { Fault = StoreFault.Throws };
        using var cache = Create(store, o => o.CircuitBreaker.Enabled = false, threshold: 1);

        for (var i = 0; i < 10; i++)
        {
            (await cache.GetAsync(NewUrl())).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        store.Calls.Should().Be(10);
        cache.Backend.Breaker.Should().BeNull();
    }

    [Test]
    public async Task SendAsync_NoStorageTimeout_WaitsForTheStorage()
    {
        var store = new FaultyStore { Fault = StoreFault.Hangs };
        using var cache = Create(store, o => o.StorageTimeout = System.Threading.Timeout.InfiniteTimeSpan);

        var pending = cache.GetAsync(NewUrl());
        cache.Time.Advance(TimeSpan.FromHours(1));
        await Task.WhenAny(pending, Task.Delay(100));
        pending.IsCompleted.Should().BeFalse("there is no timeout");
        store.Release();
        var (response, _) = await pending;

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed, "the storage failed in the end");
    }

    [Test]
    public async Task SendAsync_RevalidationMergeFailsToSave_ServesTheRevalidatedResponseAndCountsTheError()
    {
        var store = new FaultyStore();
        using var metrics = new MetricsRecorder(store.Name);
        using var cache = Create(store, o => o.ExpireAfter = TimeSpan.FromMinutes(1));
        var url = NewUrl();
        cache.Stub.RespondInSequence(url, StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.NotModified().WithHeader("ETag", "\"v1\""));
        await cache.GetAsync(url);
        cache.Time.Advance(TimeSpan.FromMinutes(2));
        store.Fault = StoreFault.WritesThrow;

        var (response, body) = await cache.GetAsync(url);

        body.Should().Be("one");
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        metrics.Sum("cachedhttp.storage.errors", ("operation", "write"), ("reason", "error")).Should().Be(1);
    }

    [Test]
    public async Task SendAsync_UnsafeMethodWhileStorageHangs_InvalidationIsCutAtTheTimeout()
    {
        var store = new FaultyStore { Fault = StoreFault.Hangs };
        using var metrics = new MetricsRecorder(store.Name);
        using var cache = Create(store, o => o.CacheControl = true);

        var response = await AdvanceUntilDoneAsync(cache.Time, cache.SendAsync(HttpMethod.Post, NewUrl()), TimeSpan.FromMilliseconds(250));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        metrics.Sum("cachedhttp.storage.errors", ("operation", "invalidate"), ("reason", "timeout")).Should().Be(1);
    }

    [Test]
    public async Task ManagementCalls_CircuitOpen_StillCallTheStorageAndThrow()
    {
        var store = new FaultyStore();
        using var cache = Create(store);
        await OpenCircuitAsync(cache, store);
        var calls = store.Calls;

        await FluentActions.Awaiting(() => cache.Backend.ClearAsync().AsTask()).Should().ThrowAsync<IOException>();
        await FluentActions.Awaiting(() => cache.Backend.DeleteAsync("key").AsTask()).Should().ThrowAsync<IOException>();
        await FluentActions.Awaiting(() => cache.Backend.GetResponseAsync("key").AsTask()).Should().ThrowAsync<IOException>();

        store.Calls.Should().Be(calls + 3);
    }

    [Test]
    public async Task Logs_TimeoutAndCircuit_HaveFixedEventIds()
    {
        var store = new FaultyStore { Fault = StoreFault.Hangs };
        var logs = new LogRecorder();
        using var cache = Create(store, threshold: 1, logs: logs);

        await AdvanceUntilDoneAsync(cache.Time, cache.GetAsync(NewUrl()), TimeSpan.FromMilliseconds(250));
        await cache.GetAsync(NewUrl());

        logs.Entries.Should().Contain(e => e.Id == 8 && e.Level == LogLevel.Warning && e.Message.Contains(store.Name, StringComparison.Ordinal) && e.Message.Contains("read", StringComparison.Ordinal));
        logs.Entries.Should().Contain(e => e.Id == 9 && e.Level == LogLevel.Warning && e.Message.Contains("1 consecutive", StringComparison.Ordinal));
        logs.Entries.Should().Contain(e => e.Id == 11 && e.Level == LogLevel.Debug);
    }

    [Test]
    public async Task Dispose_WhileTheCircuitIsOpen_NoLongerCountsItAsOpen()
    {
        var store = new FaultyStore();
        using var metrics = new MetricsRecorder(store.Name);
        var cache = Create(store);
        await OpenCircuitAsync(cache, store);
        metrics.Sum("cachedhttp.storage.circuit.open").Should().Be(1);

        cache.Dispose();

        metrics.Sum("cachedhttp.storage.circuit.open").Should().Be(0);
    }

    /// <summary>Keeps the event id, level and message of every log entry.</summary>
    internal sealed class LogRecorder : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<(int Id, LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(int Id, LogLevel Level, string Message)> Entries => [.. _entries];

        public IReadOnlyList<int> EventIds => _entries.Select(e => e.Id).ToList();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => _entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));

        public void Dispose()
        {
        }
    }
}
