using System.Net;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Request coalescing: identical concurrent requests share one origin request.</summary>
[Parallelizable(ParallelScope.All)]
public class CoalescingTests
{
    private const string Url = "https://example.com/shared";

    /// <summary>A cache whose redirect store counts reads: every lookup of a missing key reads it once.</summary>
    private static (TestCache Cache, CountingStore Redirects) Create(Action<CacheOptions>? configure = null)
    {
        var redirects = new CountingStore();
        var cache = new TestCache(configure, backend: o => new CacheBackend(new InMemoryCache(o.TimeProvider), redirects, o));
        return (cache, redirects);
    }

    /// <summary>Waits until <paramref name="lookups"/> lookups have missed, then a little more, so that the callers have joined the flight.</summary>
    private static async Task WaitForLookups(CountingStore redirects, int lookups)
    {
        await Eventually.Until(() => redirects.Reads >= lookups, $"{lookups} lookups were made");
        await Task.Delay(50);
    }

    [Test]
    public async Task Send_HundredIdenticalConcurrentRequests_ReachTheNetworkOnce()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var body = ChunkedStream.Expected(50_000);
        var gate = new TaskCompletionSource();
        cache.Stub.Respond(Url, StubResponse.Ok(body).WaitingFor(gate.Task));

        var tasks = Enumerable.Range(0, 100).Select(_ => Task.Run(() => cache.Client.GetAsync(Url))).ToArray();
        await cache.Stub.WaitForCallsAsync(1);
        await WaitForLookups(redirects, 101); // the leader looks up twice
        gate.SetResult();
        var responses = await Task.WhenAll(tasks);

        cache.Stub.TotalCalls.Should().Be(1);
        responses.Distinct(ReferenceEqualityComparer.Instance).Should().HaveCount(100);
        responses.Select(r => r.Content).Distinct(ReferenceEqualityComparer.Instance).Should().HaveCount(100);
        responses.Count(r => r.IsFromCache()).Should().Be(99);
        responses[0].Dispose();
        foreach (var response in responses.Skip(1))
        {
            (await response.Content.ReadAsByteArrayAsync()).Should().Equal(body);
            response.Dispose();
        }

        cache.Backend.InFlight.Should().BeEmpty();
    }

    [Test]
    public async Task Send_ConcurrentRequestsWithCoalescingOff_EachReachTheNetwork()
    {
        var (cache, redirects) = Create(o => o.CoalesceRequests = false);
        using var _ = cache;
        var gate = new TaskCompletionSource();
        cache.Stub.Respond(Url, StubResponse.Ok("x").WaitingFor(gate.Task));

        var tasks = Enumerable.Range(0, 10).Select(_ => Task.Run(() => cache.Client.GetAsync(Url))).ToArray();
        await cache.Stub.WaitForCallsAsync(10);
        gate.SetResult();
        await Task.WhenAll(tasks);

        cache.Stub.TotalCalls.Should().Be(10);
    }

    [Test]
    public async Task SendSync_IdenticalConcurrentRequests_ReachTheNetworkOnce()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var gate = new TaskCompletionSource();
        cache.Stub.Respond(Url, StubResponse.Ok("sync body").WaitingFor(gate.Task));

        var tasks = Enumerable.Range(0, 10).Select(_ => Task.Factory.StartNew(
            () =>
            {
                using var response = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url));
                using var reader = new StreamReader(response.Content.ReadAsStream());
                return reader.ReadToEnd();
            },
            TaskCreationOptions.LongRunning)).ToArray();
        await cache.Stub.WaitForCallsAsync(1);
        await WaitForLookups(redirects, 11);
        gate.SetResult();
        var bodies = await Task.WhenAll(tasks);

        bodies.Should().AllBe("sync body");
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_NetworkFailureDuringSharedRequest_ReachesEveryWaiterAndIsNotCached()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var gate = new TaskCompletionSource();
        cache.Stub.RespondInSequence(Url, StubResponse.Throws(new HttpRequestException("origin down")).WaitingFor(gate.Task), StubResponse.Ok("recovered"));

        var tasks = Enumerable.Range(0, 20).Select(_ => Task.Run(() => cache.Client.GetAsync(Url))).ToArray();
        await cache.Stub.WaitForCallsAsync(1);
        await WaitForLookups(redirects, 21);
        gate.SetResult();

        foreach (var task in tasks)
        {
            await FluentActions.Awaiting(() => task).Should().ThrowAsync<HttpRequestException>().WithMessage("origin down");
        }

        cache.Stub.TotalCalls.Should().Be(1);
        (await cache.StoredCountAsync()).Should().Be(0);
        cache.Backend.InFlight.Should().BeEmpty();
        (await cache.Client.GetStringAsync(Url)).Should().Be("recovered");
    }

    [Test]
    public async Task Send_OneWaiterCancelled_OthersStillGetTheResponse()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var gate = new TaskCompletionSource();
        cache.Stub.Respond(Url, StubResponse.Ok("shared").WaitingFor(gate.Task));
        var leader = Task.Run(() => cache.Client.GetStringAsync(Url));
        await cache.Stub.WaitForCallsAsync(1);
        using var cts = new CancellationTokenSource();
        var cancelled = Task.Run(() => cache.Client.GetStringAsync(Url, cts.Token));
        var waiters = Enumerable.Range(0, 10).Select(_ => Task.Run(() => cache.Client.GetStringAsync(Url))).ToArray();
        await WaitForLookups(redirects, 13);

        cts.Cancel();

        await FluentActions.Awaiting(() => cancelled).Should().ThrowAsync<OperationCanceledException>();
        leader.IsCompleted.Should().BeFalse("the cancelled waiter did not end the shared request");
        waiters.Should().OnlyContain(w => !w.IsCompleted);
        gate.SetResult();
        (await leader).Should().Be("shared");
        (await Task.WhenAll(waiters)).Should().AllBe("shared");
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_LeaderCancelled_WaitersRetryAndGetTheResponse()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var never = new TaskCompletionSource();
        cache.Stub.RespondInSequence(Url, StubResponse.Ok("first").WaitingFor(never.Task), StubResponse.Ok("second"));
        using var cts = new CancellationTokenSource();
        var leader = Task.Run(() => cache.Client.GetStringAsync(Url, cts.Token));
        await cache.Stub.WaitForCallsAsync(1);
        var waiters = Enumerable.Range(0, 10).Select(_ => Task.Run(() => cache.Client.GetStringAsync(Url))).ToArray();
        await WaitForLookups(redirects, 12);

        cts.Cancel();

        await FluentActions.Awaiting(() => leader).Should().ThrowAsync<OperationCanceledException>();
        (await Task.WhenAll(waiters)).Should().AllBe("second");
        cache.Stub.TotalCalls.Should().Be(2);
        cache.Backend.InFlight.Should().BeEmpty();
    }

    [Test]
    public async Task Send_LeaderDisposesWithoutReadingBody_WaitersRetryAndGetTheResponse()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var gate = new TaskCompletionSource();
        cache.Stub.RespondInSequence(Url, StubResponse.Ok("first").WaitingFor(gate.Task), StubResponse.Ok("second"));
        var leader = Task.Run(() => cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead));
        await cache.Stub.WaitForCallsAsync(1);
        var waiters = Enumerable.Range(0, 5).Select(_ => Task.Run(() => cache.Client.GetStringAsync(Url))).ToArray();
        await WaitForLookups(redirects, 7);
        gate.SetResult();

        (await leader).Dispose();

        (await Task.WhenAll(waiters)).Should().AllBe("second");
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Send_SharedResponseNotStorable_WaitersStillGetIt()
    {
        var (cache, redirects) = Create();
        using var _ = cache;
        var gate = new TaskCompletionSource();
        cache.Stub.Respond(Url, StubResponse.WithStatus(HttpStatusCode.NotFound, "missing").WaitingFor(gate.Task));

        var tasks = Enumerable.Range(0, 10).Select(_ => Task.Run(() => cache.Client.GetAsync(Url))).ToArray();
        await cache.Stub.WaitForCallsAsync(1);
        await WaitForLookups(redirects, 11);
        gate.SetResult();
        var responses = await Task.WhenAll(tasks);

        responses.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.NotFound);
        foreach (var response in responses)
        {
            (await response.Content.ReadAsStringAsync()).Should().Be("missing");
        }

        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_TenThousandDistinctKeys_LeaveNoFlightBehind()
    {
        using var cache = new TestCache();
        cache.Stub.Default = r => (int.Parse(r.Uri.Query.TrimStart('?'), System.Globalization.CultureInfo.InvariantCulture) % 4) switch
        {
            0 => StubResponse.Ok("ok"),
            1 => StubResponse.WithStatus(HttpStatusCode.NotFound, "missing"),
            2 => StubResponse.Throws(new HttpRequestException("down")),
            _ => StubResponse.Ok(new byte[2000]),
        };

        await Parallel.ForEachAsync(Enumerable.Range(0, 10_000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var url = $"https://example.com/item?{i}";
            try
            {
                if (i % 4 == 3)
                {
                    // Headers only, then disposed without reading the body.
                    using var partial = await cache.Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
                }
                else
                {
                    using var response = await cache.Client.GetAsync(url, ct);
                }
            }
            catch (HttpRequestException)
            {
            }
        });

        cache.Backend.InFlight.Should().BeEmpty();
        cache.Stub.TotalCalls.Should().Be(10_000);
        (await cache.StoredCountAsync()).Should().Be(2500);
    }
}
