using System.Net;
using System.Reflection;
using CachedHttp.Tests.Unit.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit;

/// <summary>CachedSession: Disabled() scopes, per-request overloads and the autoclose rule.</summary>
[Parallelizable(ParallelScope.All)]
public class CachedSessionTests
{
    private const string Url = "https://example.com/session";

    private static (CacheBackend Backend, FakeTimeProvider Time) Backend(Action<CacheOptions>? configure = null)
    {
        var time = new FakeTimeProvider(TestCache.Start);
        var options = new CacheOptions { TimeProvider = time };
        configure?.Invoke(options);
        return (new CacheBackend(options), time);
    }

    [Test]
    public void Constructor_Default_CreatesInMemoryBackendAndCachingHandler()
    {
        using var session = new CachedSession();

        session.Cache.Should().NotBeNull();
        session.Cache.Responses.Should().BeOfType<InMemoryCache>();
        session.Handler.Cache.Should().BeSameAs(session.Cache);
        session.Handler.FollowRedirects.Should().BeTrue();
    }

    [Test]
    public void Constructor_Backend_ExposesItAsCache()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        using var session = new CachedSession(backend, new StubHandler());

        session.Cache.Should().BeSameAs(backend);
        session.Handler.InnerHandler.Should().BeOfType<StubHandler>();
    }

    [Test]
    public void Constructor_NullBackend_Throws()
    {
        var act = () => new CachedSession(null!);

        act.Should().Throw<ArgumentNullException>();
    }

    [Test]
    public async Task Disabled_InScope_NeitherReadsNorWrites()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler();
        using var session = new CachedSession(backend, stub);
        await session.GetStringAsync(Url);

        using (session.Disabled())
        {
            using var response = await session.GetAsync(Url);
            response.IsFromCache().Should().BeFalse();
            await session.GetStringAsync("https://example.com/new");
        }

        stub.CallCount(Url).Should().Be(2);
        (await backend.HasUrlAsync("https://example.com/new")).Should().BeFalse();
        using var after = await session.GetAsync(Url);
        after.IsFromCache().Should().BeTrue("caching resumes after the scope");
    }

    [Test]
    public async Task Disabled_TwoSessionsSharingABackend_OnlyTheDisablingSessionIsAffected()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stubOne = new StubHandler();
        var stubTwo = new StubHandler();
        using var one = new CachedSession(backend, stubOne);
        using var two = new CachedSession(backend, stubTwo);
        await one.GetStringAsync(Url);

        using (one.Disabled())
        {
            await one.GetStringAsync(Url);
            using var fromTwo = await two.GetAsync(Url);
            fromTwo.IsFromCache().Should().BeTrue();
            await two.GetStringAsync("https://example.com/two");
            two.Handler.IsDisabled.Should().BeFalse();
        }

        stubOne.CallCount(Url).Should().Be(2);
        stubTwo.CallCount(Url).Should().Be(0);
        (await backend.HasUrlAsync("https://example.com/two")).Should().BeTrue();
    }

    [Test]
    public async Task Disabled_ConcurrentFlowStartedOutsideTheScope_KeepsCaching()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler();
        using var session = new CachedSession(backend, stub);
        await session.GetStringAsync(Url);
        var go = new TaskCompletionSource();
        var outside = Task.Run(async () =>
        {
            await go.Task;
            using var response = await session.GetAsync(Url);
            await session.GetStringAsync("https://example.com/outside");
            return response.IsFromCache();
        });

        bool outsideHit;
        using (session.Disabled())
        {
            var inside = Task.Run(async () =>
            {
                using var response = await session.GetAsync(Url);
                return response.IsFromCache();
            });
            go.SetResult();
            outsideHit = await outside;
            (await inside).Should().BeFalse("a task started inside the scope is disabled too");
            using var direct = await session.GetAsync(Url);
            direct.IsFromCache().Should().BeFalse();
        }

        outsideHit.Should().BeTrue("a flow started outside the scope keeps caching");
        (await backend.HasUrlAsync("https://example.com/outside")).Should().BeTrue();
        stub.CallCount(Url).Should().Be(3);
    }

    [Test]
    public async Task Disabled_BlockThrows_ScopeIsRestored()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler();
        using var session = new CachedSession(backend, stub);
        await session.GetStringAsync(Url);

        var act = async () =>
        {
            using (session.Disabled())
            {
                await session.GetStringAsync(Url);
                throw new InvalidOperationException("boom");
            }
        };

        await act.Should().ThrowAsync<InvalidOperationException>();
        session.Handler.IsDisabled.Should().BeFalse();
        using var after = await session.GetAsync(Url);
        after.IsFromCache().Should().BeTrue();
    }

    [Test]
    public void Disabled_NestedScopes_RestoreThePreviousState()
    {
        using var session = new CachedSession(new CacheBackend(), new StubHandler());

        var outer = session.Disabled();
        var inner = session.Disabled();
        inner.Dispose();
        session.Handler.IsDisabled.Should().BeTrue("the outer scope is still open");
        inner.Dispose();
        session.Handler.IsDisabled.Should().BeTrue("disposing a scope twice changes nothing");
        outer.Dispose();

        session.Handler.IsDisabled.Should().BeFalse();
    }

    [Test]
    public async Task GetAsync_PerRequestExpiration_SetsExpiry()
    {
        var (backend, time) = Backend();
        using var _ = backend;
        var stub = new StubHandler();
        using var session = new CachedSession(backend, stub);

        using var response = await session.GetAsync(Url, Expiration.After(TimeSpan.FromMinutes(2)), CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(2));
        using var expired = await session.GetAsync(Url);

        response.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(2));
        expired.IsFromCache().Should().BeFalse();
        stub.CallCount(Url).Should().Be(2);
    }

    [Test]
    public async Task GetAsync_PerRequestDoNotCache_NeitherReadsNorWrites()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler();
        using var session = new CachedSession(backend, stub);
        await session.GetStringAsync(Url);

        (await session.GetStringAsync(Url, Expiration.DoNotCache)).Should().Be("body of " + Url);
        (await session.GetByteArrayAsync("https://example.com/other", Expiration.DoNotCache)).Should().NotBeEmpty();

        stub.CallCount(Url).Should().Be(2);
        (await backend.HasUrlAsync("https://example.com/other")).Should().BeFalse();
    }

    [Test]
    public async Task GetStringAsync_PerRequestExpirationAndRelativeUrl_ResolvesAgainstBaseAddress()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler();
        using var session = new CachedSession(backend, stub) { BaseAddress = new Uri("https://api.example.com/v1/") };

        (await session.GetStringAsync("items", TimeSpan.FromMinutes(1))).Should().Be("body of https://api.example.com/v1/items");
        await session.GetStringAsync("items", TimeSpan.FromMinutes(1));

        stub.CallCount("https://api.example.com/v1/items").Should().Be(1);
    }

    [Test]
    public async Task GetStringAsync_PerRequestExpirationAndErrorStatus_Throws()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler().Respond(Url, StubResponse.WithStatus(HttpStatusCode.NotFound));
        using var session = new CachedSession(backend, stub);

        await FluentActions.Awaiting(() => session.GetStringAsync(Url, Expiration.Never)).Should().ThrowAsync<HttpRequestException>();
        await FluentActions.Awaiting(() => session.GetByteArrayAsync(Url, Expiration.Never)).Should().ThrowAsync<HttpRequestException>();
    }

    [Test]
    public async Task GetAsync_PerRequestExpirationCancelled_Throws()
    {
        var (backend, _) = Backend();
        using var _ = backend;
        var stub = new StubHandler().Respond(Url, StubResponse.Ok("slow").WithDelay(TimeSpan.FromSeconds(30)));
        using var session = new CachedSession(backend, stub);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await FluentActions.Awaiting(() => session.GetAsync(Url, Expiration.Never, cts.Token)).Should().ThrowAsync<OperationCanceledException>();
    }

    [Test]
    public async Task GetAsync_NullExpiration_Throws()
    {
        using var session = new CachedSession(new CacheBackend(), new StubHandler());

        await FluentActions.Awaiting(() => session.GetAsync(Url, (Expiration)null!, CancellationToken.None)).Should().ThrowAsync<ArgumentNullException>();
    }

    private static (CacheBackend Backend, CountingStore Responses) TrackedBackend(bool? autoClose)
    {
        var responses = new CountingStore();
        return (new CacheBackend(responses, new CountingStore(), new CacheOptions { AutoClose = autoClose }), responses);
    }

    [TestCase(true, true)]
    [TestCase(false, false)]
    [TestCase(null, false)]
    public void Dispose_AutoClose_DisposesBackendOnlyWhenOn(bool? autoClose, bool expectDisposed)
    {
        var (backend, responses) = TrackedBackend(autoClose);
        var session = new CachedSession(backend, new StubHandler());

        session.Dispose();

        responses.IsDisposed.Should().Be(expectDisposed);
        backend.AutoClose.Should().Be(expectDisposed);
    }

    [TestCase(true, true)]
    [TestCase(false, false)]
    [TestCase(null, false)]
    public async Task DisposeAsync_AutoClose_DisposesBackendOnlyWhenOn(bool? autoClose, bool expectDisposed)
    {
        var (backend, responses) = TrackedBackend(autoClose);
        var stub = new StubHandler();

        await using (new CachedSession(backend, stub))
        {
        }

        responses.IsDisposed.Should().Be(expectDisposed);
        stub.IsDisposed.Should().BeTrue("the session disposes its handlers by default");
    }

    [TestCase(null, true)]
    [TestCase(false, false)]
    public void Dispose_BackendThatClosesByDefault_FollowsOptionsWhenSet(bool? autoClose, bool expectDisposed)
    {
        var responses = new CountingStore();
        var backend = new AutoClosingBackend(new CacheOptions { AutoClose = autoClose }, responses);

        new CachedSession(backend, new StubHandler()).Dispose();

        responses.IsDisposed.Should().Be(expectDisposed);
    }

    [Test]
    public void Dispose_SessionCreatedTheBackend_DisposesIt()
    {
        var session = new CachedSession();
        var backend = session.Cache;

        session.Dispose();

        IsDisposed(backend).Should().BeTrue();
    }

    [Test]
    public async Task DisposeAsync_SessionCreatedTheBackend_DisposesIt()
    {
        var session = new CachedSession();
        var backend = session.Cache;

        await session.DisposeAsync();

        IsDisposed(backend).Should().BeTrue();
    }

    [Test]
    public void Dispose_SharedBackendWithoutAutoClose_StaysUsableByOtherSessions()
    {
        var (backend, responses) = TrackedBackend(autoClose: null);
        var stub = new StubHandler();
        new CachedSession(backend, new StubHandler()).Dispose();

        using var other = new CachedSession(backend, stub);
        other.GetStringAsync(Url).GetAwaiter().GetResult();

        responses.IsDisposed.Should().BeFalse();
        IsDisposed(backend).Should().BeFalse();
    }

    [Test]
    public void Dispose_DisposeHandlerFalse_LeavesTheInnerHandler()
    {
        var stub = new StubHandler();

        new CachedSession(new CacheBackend(), stub, disposeHandler: false).Dispose();

        stub.IsDisposed.Should().BeFalse();
    }

    [Test]
    public async Task Dispose_Twice_IsHarmless()
    {
        var (backend, responses) = TrackedBackend(autoClose: true);
        var session = new CachedSession(backend, new StubHandler());

        session.Dispose();
        await session.DisposeAsync();
        session.Dispose();

        responses.IsDisposed.Should().BeTrue();
    }

    /// <summary>The backend records disposal in a private flag; reading it is the only way to see an in-memory backend disposed.</summary>
    private static bool IsDisposed(CacheBackend backend)
    {
        var field = typeof(CacheBackend).GetField("_disposed", BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new InvalidOperationException("CacheBackend no longer has a _disposed field; update this test.");
        return (int)field.GetValue(backend)! != 0;
    }

    /// <summary>A backend that closes by default, as SQLite and file backends do.</summary>
    private sealed class AutoClosingBackend(CacheOptions options, BaseCache responses)
        : CacheBackend(options, (_, name) => name == "responses" ? responses : new InMemoryCache())
    {
        protected override bool AutoCloseByDefault => true;
    }
}
