using System.Net;
using System.Text;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>The request path: hits, misses, expiration, what is stored and what is served.</summary>
[Parallelizable(ParallelScope.All)]
public class CachingHandlerTests
{
    private const string Url = "https://example.com/resource";

    [Test]
    public async Task Send_Hit_SendsNothingToTheNetwork()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);

        var (hit, body) = await cache.GetAsync(Url);

        body.Should().Be("body of " + Url);
        hit.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_Miss_FetchesAndReportsNotFromCache()
    {
        using var cache = new TestCache(o => o.ExpireAfter = TimeSpan.FromMinutes(10));

        var (response, body) = await cache.GetAsync(Url);

        body.Should().Be("body of " + Url);
        response.IsFromCache().Should().BeFalse();
        var info = response.GetCacheInfo();
        info.Status.Should().Be(CacheStatus.Miss);
        info.Key.Should().Be(cache.KeyOf(Url));
        info.CreatedAt.Should().Be(TestCache.Start);
        info.ExpiresAt.Should().Be(TestCache.Start.AddMinutes(10));
        info.IsExpired.Should().BeFalse();
        info.Stored.Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_Hit_ReportsCreatedExpiresAndNotExpired()
    {
        using var cache = new TestCache(o => o.ExpireAfter = TimeSpan.FromMinutes(10));
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(3));

        var (hit, _) = await cache.GetAsync(Url);

        hit.IsFromCache().Should().BeTrue();
        var info = hit.GetCacheInfo();
        info.Status.Should().Be(CacheStatus.Hit);
        info.FromCache.Should().BeTrue();
        info.Key.Should().Be(cache.KeyOf(Url));
        info.CreatedAt.Should().Be(TestCache.Start);
        info.ExpiresAt.Should().Be(TestCache.Start.AddMinutes(10));
        info.IsExpired.Should().BeFalse();
        info.Revalidated.Should().BeFalse();
    }

    [Test]
    public async Task Send_Expired_FetchesAgain()
    {
        using var cache = new TestCache(o => o.ExpireAfter = TimeSpan.FromSeconds(60));
        cache.Stub.Default = r => StubResponse.Ok("call " + r.Call);
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromSeconds(59));
        (await cache.GetAsync(Url)).Body.Should().Be("call 1");
        cache.Time.Advance(TimeSpan.FromSeconds(1));

        var (response, body) = await cache.GetAsync(Url);

        body.Should().Be("call 2");
        response.IsFromCache().Should().BeFalse();
        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.GetAsync(Url)).Body.Should().Be("call 2");
    }

    [Test]
    public async Task Send_StaleServedOnError_ReportsExpired()
    {
        using var cache = new TestCache(o =>
        {
            o.ExpireAfter = TimeSpan.FromSeconds(60);
            o.StaleIfError = TimeSpan.FromHours(1);
        });
        cache.Stub.RespondInSequence(Url, StubResponse.Ok("first"), StubResponse.Throws(new HttpRequestException("down")));
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(2));

        var (stale, body) = await cache.GetAsync(Url);

        body.Should().Be("first");
        stale.IsFromCache().Should().BeTrue();
        stale.GetCacheInfo().Status.Should().Be(CacheStatus.Stale);
        stale.GetCacheInfo().IsExpired.Should().BeTrue();
    }

    [Test]
    public async Task Send_HitTwice_EachCallerGetsItsOwnResponseObject()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);

        var (a, _) = await cache.GetAsync(Url);
        var (b, _) = await cache.GetAsync(Url);

        a.Should().NotBeSameAs(b);
        a.Content.Should().NotBeSameAs(b.Content);
    }

    [Test]
    public async Task Send_Hit_KeepsStatusHeadersAndRequestMessage()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok("hello").WithHeader("X-Custom", "a").WithHeader("X-Custom", "b").WithContentType("text/html; charset=utf-8"));
        await cache.GetAsync(Url);
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);

        using var hit = await cache.Client.SendAsync(request);

        hit.StatusCode.Should().Be(HttpStatusCode.OK);
        hit.Headers.GetValues("X-Custom").Should().Equal("a", "b");
        hit.Content.Headers.ContentType!.MediaType.Should().Be("text/html");
        hit.Content.Headers.ContentType.CharSet.Should().Be("utf-8");
        hit.RequestMessage.Should().BeSameAs(request);
    }

    [Test]
    public async Task Send_PerRequestExpiration_IsNotSentToTheNetwork()
    {
        using var cache = new TestCache();

        await cache.GetAsync(Url, r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));

        cache.Stub.RequestsTo(Url).Single().Headers.Should().BeEmpty();
    }

    [Test]
    public async Task Send_PerRequestExpiration_OverridesPatternAndDefault()
    {
        using var cache = new TestCache(o =>
        {
            o.ExpireAfter = TimeSpan.FromHours(1);
            o.UrlsExpireAfter["example.com"] = TimeSpan.FromHours(2);
        });

        var (response, _) = await cache.GetAsync(Url, r => r.SetExpireAfter(TimeSpan.FromMinutes(5)));

        response.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(5));
        cache.Time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync(Url);
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Send_UrlPattern_OverridesSessionDefault()
    {
        using var cache = new TestCache(o =>
        {
            o.ExpireAfter = TimeSpan.FromHours(1);
            o.UrlsExpireAfter["example.com/other"] = TimeSpan.FromHours(3);
            o.UrlsExpireAfter["example.com/res"] = TimeSpan.FromMinutes(2);
        });

        var (matched, _) = await cache.GetAsync(Url);
        var (unmatched, _) = await cache.GetAsync("https://elsewhere.example.org/");

        matched.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(2));
        unmatched.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddHours(1));
    }

    [Test]
    public async Task Send_SessionDefaultNever_NeverExpires()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromDays(3650));

        var (hit, _) = await cache.GetAsync(Url);

        hit.IsFromCache().Should().BeTrue();
        hit.GetCacheInfo().ExpiresAt.Should().BeNull();
    }

    [Test]
    public async Task Send_PerRequestDoNotCache_NeitherReadsNorWrites()
    {
        using var cache = new TestCache();
        cache.Stub.Default = r => StubResponse.Ok("call " + r.Call);
        await cache.GetAsync(Url);

        var (bypassed, body) = await cache.GetAsync(Url, r => r.SetExpireAfter(Expiration.DoNotCache));

        body.Should().Be("call 2");
        bypassed.IsFromCache().Should().BeFalse();
        bypassed.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        (await cache.GetAsync(Url)).Body.Should().Be("call 1", "the stored response was not overwritten");
    }

    [Test]
    public async Task Send_DoNotCacheForNewUrl_StoresNothing()
    {
        using var cache = new TestCache(o => o.ExpireAfter = Expiration.DoNotCache);

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_PatternDoNotCache_BypassesOnlyMatchingUrls()
    {
        using var cache = new TestCache(o => o.UrlsExpireAfter["example.com/resource"] = Expiration.DoNotCache);

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);
        await cache.GetAsync("https://example.com/other");
        await cache.GetAsync("https://example.com/other");

        cache.Stub.CallCount(Url).Should().Be(2);
        cache.Stub.CallCount("https://example.com/other").Should().Be(1);
    }

    [Test]
    public async Task Send_ExpireImmediatelyWithoutValidator_AlwaysFetches()
    {
        using var cache = new TestCache(o => o.ExpireAfter = Expiration.ExpireImmediately);

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Send_StatusNotAllowed_IsNotStored()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.WithStatus(HttpStatusCode.NotFound, "missing"));

        var (first, _) = await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        first.StatusCode.Should().Be(HttpStatusCode.NotFound);
        first.GetCacheInfo().Stored.Should().BeFalse();
        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_StatusAllowed_IsStoredAndServed()
    {
        using var cache = new TestCache(o => o.AllowedCodes = new HashSet<int> { 200, 404 });
        cache.Stub.Respond(Url, StubResponse.WithStatus(HttpStatusCode.NotFound, "missing"));

        await cache.GetAsync(Url);
        var (hit, body) = await cache.GetAsync(Url);

        hit.StatusCode.Should().Be(HttpStatusCode.NotFound);
        body.Should().Be("missing");
        hit.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_StatusNoLongerAllowedOnRead_IsNotServedAndIsDeleted()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);
        cache.Options.AllowedCodes = new HashSet<int> { 404 };

        var (response, _) = await cache.GetAsync(Url);

        response.IsFromCache().Should().BeFalse();
        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0, "the stored 200 was deleted and the new 200 not stored");
    }

    [Test]
    public async Task Send_MethodNotAllowed_IsNotStored()
    {
        using var cache = new TestCache(o => o.AllowedMethods = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "HEAD" });

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task GetResponseAsync_MethodNoLongerAllowedOnRead_ReturnsNullAndDeletes()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);
        cache.Options.AllowedMethods = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "HEAD" };

        (await cache.Backend.GetResponseAsync(cache.KeyOf(Url))).Should().BeNull();

        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_FilterRejects_IsNotStored()
    {
        using var cache = new TestCache(o => o.Filter = r => !Encoding.UTF8.GetString(r.Body.Span).Contains("private", StringComparison.Ordinal));
        cache.Stub.Respond("https://example.com/private", StubResponse.Ok("private data"));

        await cache.GetAsync("https://example.com/private");
        await cache.GetAsync("https://example.com/private");
        await cache.GetAsync("https://example.com/public");
        await cache.GetAsync("https://example.com/public");

        cache.Stub.CallCount("https://example.com/private").Should().Be(2);
        cache.Stub.CallCount("https://example.com/public").Should().Be(1);
    }

    [Test]
    public async Task Send_FilterRejectsOnRead_IsNotServedAndIsDeleted()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);
        cache.Options.Filter = _ => false;

        var (response, _) = await cache.GetAsync(Url);

        response.IsFromCache().Should().BeFalse();
        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_AsyncFilterRejects_IsNotStored()
    {
        using var cache = new TestCache(o => o.AsyncFilter = async (r, ct) =>
        {
            await Task.Yield();
            return r.Url.AbsolutePath != "/resource";
        });

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_AsyncFilterRejectsOnRead_IsNotServedAndIsDeleted()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);
        cache.Options.AsyncFilter = (_, _) => ValueTask.FromResult(false);

        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_FilterThrows_RequestSucceedsAndNothingIsStored()
    {
        using var cache = new TestCache(o => o.Filter = _ => throw new InvalidOperationException("bad filter"));

        var (response, body) = await cache.GetAsync(Url);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Be("body of " + Url);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_CorruptStoredEntry_IsAMissAndIsReplaced()
    {
        using var cache = new TestCache();
        var key = cache.KeyOf(Url);
        await cache.Backend.Responses.WriteAsync(key, "garbage, not an entry"u8.ToArray());

        var (response, body) = await cache.GetAsync(Url);

        response.IsFromCache().Should().BeFalse();
        body.Should().Be("body of " + Url);
        cache.Stub.TotalCalls.Should().Be(1);
        (await cache.Backend.GetResponseAsync(key)).Should().NotBeNull("the garbage was replaced by the new response");
    }

    [Test]
    public async Task Send_StorageThrowsOnEveryCall_RequestsSucceedFromTheNetwork()
    {
        var stub = new StubHandler();
        var responses = new ThrowingStore();
        using var backend = new CacheBackend(responses, new ThrowingStore());
        using var client = new HttpClient(new CachingHandler(backend, stub));

        var first = await client.GetStringAsync(Url);
        var second = await client.GetStringAsync(Url);

        first.Should().Be("body of " + Url);
        second.Should().Be("body of " + Url);
        stub.TotalCalls.Should().Be(2);
        responses.Calls.Should().BeGreaterThan(0, "the storage was tried");
    }

    [Test]
    public void SendSync_StorageThrowsOnEveryCall_RequestsSucceedFromTheNetwork()
    {
        var stub = new StubHandler();
        using var backend = new CacheBackend(new ThrowingStore(), new ThrowingStore());
        using var client = new HttpClient(new CachingHandler(backend, stub));

        for (var i = 0; i < 2; i++)
        {
            using var response = client.Send(new HttpRequestMessage(HttpMethod.Get, Url));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Send_NetworkThrows_ExceptionReachesCallerAndNothingIsStored()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Throws(new HttpRequestException("connection refused")));

        var act = () => cache.GetAsync(Url);

        (await act.Should().ThrowAsync<HttpRequestException>()).WithMessage("connection refused");
        (await cache.StoredCountAsync()).Should().Be(0);
        cache.Backend.InFlight.Should().BeEmpty();
    }

    [Test]
    public async Task Send_CallerSendsConditionalHeader_GoesToTheNetwork()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);

        await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("If-None-Match", "\"mine\""));

        cache.Stub.TotalCalls.Should().Be(2);
        cache.Stub.RequestsTo(Url)[1].Header("If-None-Match").Should().Be("\"mine\"");
    }

    [Test]
    public async Task OnlyIfCached_Stored_IsServed()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);

        var (response, body) = await cache.GetAsync(Url, r => r.SetOnlyIfCached());

        response.IsFromCache().Should().BeTrue();
        body.Should().Be("body of " + Url);
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task OnlyIfCached_NothingStored_GatewayTimeoutWithoutNetwork()
    {
        using var cache = new TestCache();

        var (response, _) = await cache.GetAsync(Url, r => r.SetOnlyIfCached());

        response.StatusCode.Should().Be(HttpStatusCode.GatewayTimeout);
        response.GetCacheInfo().Status.Should().Be(CacheStatus.OnlyIfCachedMiss);
        cache.Stub.TotalCalls.Should().Be(0);
    }

    [Test]
    public async Task Send_VaryStar_IsNotStored()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok("x").WithHeader("Vary", "*"));

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public void SendSync_Disabled_BypassesCache()
    {
        using var cache = new TestCache();
        cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url)).Dispose();

        using (cache.Handler.Disable())
        {
            using var bypassed = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url));
            bypassed.IsFromCache().Should().BeFalse();
        }

        using var hit = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url));
        hit.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Disable_InScope_BypassesCache()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);

        using (cache.Handler.Disable())
        {
            cache.Handler.IsDisabled.Should().BeTrue();
            (await cache.GetAsync(Url)).Response.GetCacheInfo().Status.Should().Be(CacheStatus.Bypassed);
        }

        cache.Handler.IsDisabled.Should().BeFalse();
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public void GetCacheInfo_ResponseThatDidNotPassThroughACache_ReportsNone()
    {
        using var plain = new HttpResponseMessage(HttpStatusCode.OK);

        plain.IsFromCache().Should().BeFalse();
        plain.GetCacheInfo().Should().Be(CacheInfo.None);
    }

    [Test]
    public void Constructor_NullArguments_Throw()
    {
        using var backend = new CacheBackend();

        ((Action)(() => _ = new CachingHandler(null!))).Should().Throw<ArgumentNullException>();
        ((Action)(() => _ = new CachingHandler(backend, (HttpMessageHandler)null!))).Should().Throw<ArgumentNullException>();
    }

    [Test]
    public void Constructor_DefaultInnerHandler_FollowsRedirectsItselfWithoutOpeningSockets()
    {
        using var backend = new CacheBackend();
        using var handler = new CachingHandler(backend);

        handler.FollowRedirects.Should().BeTrue();
        var inner = handler.InnerHandler.Should().BeOfType<SocketsHttpHandler>().Subject;
        inner.AllowAutoRedirect.Should().BeFalse();
        inner.UseCookies.Should().BeTrue();
        inner.CookieContainer.Should().NotBeNull();
    }

    [Test]
    public void Constructor_GivenInnerHandler_DoesNotFollowRedirectsByDefault()
    {
        using var backend = new CacheBackend();
        using var handler = new CachingHandler(backend, new StubHandler());

        handler.FollowRedirects.Should().BeFalse();
        handler.Cache.Should().BeSameAs(backend);
    }
}
