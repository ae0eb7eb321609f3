using System.Net;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Refresh (conditional requests, 304 handling) and forced refresh.</summary>
[Parallelizable(ParallelScope.All)]
public class RevalidationTests
{
    private const string Url = "https://example.com/versioned";
    private static readonly string LastModified = HttpDates.Format(TestCache.Start.AddDays(-1));

    private static TestCache Create(params StubResponse[] answers)
    {
        var cache = new TestCache(o => o.ExpireAfter = TimeSpan.FromMinutes(10));
        cache.Stub.RespondInSequence(Url, answers);
        return cache;
    }

    [Test]
    public async Task Refresh_StoredETag_SendsIfNoneMatch()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.NotModified());
        await cache.GetAsync(Url);

        await cache.GetAsync(Url, r => r.SetRefresh());

        var conditional = cache.Stub.RequestsTo(Url)[1];
        conditional.Header("If-None-Match").Should().Be("\"v1\"");
        conditional.Header("If-Modified-Since").Should().BeNull();
    }

    [Test]
    public async Task Refresh_StoredLastModified_SendsIfModifiedSince()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("Last-Modified", LastModified), StubResponse.NotModified());
        await cache.GetAsync(Url);

        await cache.GetAsync(Url, r => r.SetRefresh());

        var conditional = cache.Stub.RequestsTo(Url)[1];
        conditional.Header("If-Modified-Since").Should().Be(LastModified);
        conditional.Header("If-None-Match").Should().BeNull();
    }

    [Test]
    public async Task Refresh_NotModified_ServesStoredBodyWithNewHeaders()
    {
        using var cache = Create(
            StubResponse.Ok("one").WithHeader("ETag", "\"v1\"").WithHeader("X-Version", "1"),
            StubResponse.NotModified().WithHeader("ETag", "\"v1\"").WithHeader("X-Version", "2").WithHeader("X-New", "yes"));
        await cache.GetAsync(Url);

        var (response, body) = await cache.GetAsync(Url, r => r.SetRefresh());

        body.Should().Be("one");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("X-Version").Should().Equal("2");
        response.Headers.GetValues("X-New").Should().Equal("yes");
        response.IsFromCache().Should().BeTrue();
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        response.GetCacheInfo().Revalidated.Should().BeTrue();
    }

    [Test]
    public async Task Refresh_NotModified_StoresMergedHeaders()
    {
        using var cache = Create(
            StubResponse.Ok("one").WithHeader("ETag", "\"v1\"").WithHeader("X-Version", "1"),
            StubResponse.NotModified().WithHeader("X-Version", "2"));
        await cache.GetAsync(Url);
        await cache.GetAsync(Url, r => r.SetRefresh());

        var (hit, body) = await cache.GetAsync(Url);

        hit.GetCacheInfo().Status.Should().Be(CacheStatus.Hit);
        hit.Headers.GetValues("X-Version").Should().Equal("2");
        body.Should().Be("one");
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Refresh_NotModified_ExtendsExpiry()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.NotModified());
        var (first, _) = await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(8));

        var (refreshed, _) = await cache.GetAsync(Url, r => r.SetRefresh());

        first.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(10));
        refreshed.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(18));
        refreshed.GetCacheInfo().CreatedAt.Should().Be(TestCache.Start.AddMinutes(8));
        cache.Time.Advance(TimeSpan.FromMinutes(5));
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeTrue("the entry was extended past its first expiry");
        (await cache.Backend.GetResponseAsync(cache.KeyOf(Url)))!.ExpiresAt.Should().Be(TestCache.Start.AddMinutes(18));
    }

    [Test]
    public async Task Refresh_ChangedResponse_ServesAndStoresNewBody()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.Ok("two").WithHeader("ETag", "\"v2\""));
        await cache.GetAsync(Url);

        var (refreshed, body) = await cache.GetAsync(Url, r => r.SetRefresh());
        var (hit, hitBody) = await cache.GetAsync(Url);

        body.Should().Be("two");
        refreshed.IsFromCache().Should().BeFalse();
        hitBody.Should().Be("two");
        hit.Headers.ETag!.Tag.Should().Be("\"v2\"");
    }

    [Test]
    public async Task Refresh_NotModifiedWithDifferentETag_FetchesTheFullResponse()
    {
        using var cache = Create(
            StubResponse.Ok("one").WithHeader("ETag", "\"v1\""),
            StubResponse.NotModified().WithHeader("ETag", "\"v2\""),
            StubResponse.Ok("two").WithHeader("ETag", "\"v2\""));
        await cache.GetAsync(Url);

        var (_, body) = await cache.GetAsync(Url, r => r.SetRefresh());

        body.Should().Be("two");
        var requests = cache.Stub.RequestsTo(Url);
        requests.Should().HaveCount(3);
        requests[2].Header("If-None-Match").Should().BeNull("the full response is fetched unconditionally");
    }

    [Test]
    public async Task Refresh_NoValidators_FetchesUnconditionally()
    {
        using var cache = Create(StubResponse.Ok("one"), StubResponse.Ok("two"));
        await cache.GetAsync(Url);

        var (_, body) = await cache.GetAsync(Url, r => r.SetRefresh());

        body.Should().Be("two");
        cache.Stub.RequestsTo(Url)[1].Header("If-None-Match").Should().BeNull();
        (await cache.GetAsync(Url)).Body.Should().Be("two");
    }

    [Test]
    public async Task Refresh_NothingStored_FetchesAndStores()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("ETag", "\"v1\""));

        var (response, body) = await cache.GetAsync(Url, r => r.SetRefresh());

        body.Should().Be("one");
        response.IsFromCache().Should().BeFalse();
        cache.Stub.RequestsTo(Url).Single().Header("If-None-Match").Should().BeNull();
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeTrue();
    }

    [Test]
    public async Task Send_ExpiredWithValidator_RevalidatesInsteadOfDeleting()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.NotModified());
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(11));

        var (response, body) = await cache.GetAsync(Url);

        cache.Stub.RequestsTo(Url)[1].Header("If-None-Match").Should().Be("\"v1\"");
        body.Should().Be("one");
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        response.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(21));
    }

    [Test]
    public async Task Send_ExpireImmediatelyWithValidator_RevalidatesOnEveryUse()
    {
        using var cache = new TestCache(o => o.ExpireAfter = Expiration.ExpireImmediately);
        cache.Stub.RespondInSequence(Url, StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.NotModified());

        await cache.GetAsync(Url);
        var (second, secondBody) = await cache.GetAsync(Url);
        var (third, thirdBody) = await cache.GetAsync(Url);

        secondBody.Should().Be("one");
        thirdBody.Should().Be("one");
        second.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        third.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        cache.Stub.RequestsTo(Url).Skip(1).Should().OnlyContain(r => r.Header("If-None-Match") == "\"v1\"");
        cache.Stub.TotalCalls.Should().Be(3);
    }

    [Test]
    public async Task Send_PerRequestInstantInThePast_IsStoredAlreadyExpired()
    {
        using var cache = new TestCache();

        var (first, _) = await cache.GetAsync(Url, r => r.SetExpireAfter(TestCache.Start.AddMinutes(-1)));
        var (second, _) = await cache.GetAsync(Url);

        first.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(-1));
        second.IsFromCache().Should().BeFalse();
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Send_PerRequestInstantInTheFuture_ExpiresThen()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url, r => r.SetExpireAfter(TestCache.Start.AddMinutes(30)));

        cache.Time.Advance(TimeSpan.FromMinutes(29));
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeTrue();
        cache.Time.Advance(TimeSpan.FromMinutes(1));
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeFalse();
    }

    [Test]
    public async Task ForceRefresh_FreshEntry_SkipsTheReadAndStoresTheNewResponse()
    {
        using var cache = Create(StubResponse.Ok("one").WithHeader("ETag", "\"v1\""), StubResponse.Ok("two"));
        await cache.GetAsync(Url);

        var (forced, body) = await cache.GetAsync(Url, r => r.SetForceRefresh());
        var (hit, hitBody) = await cache.GetAsync(Url);

        body.Should().Be("two");
        forced.IsFromCache().Should().BeFalse();
        cache.Stub.RequestsTo(Url)[1].Header("If-None-Match").Should().BeNull("a forced refresh is unconditional");
        hit.IsFromCache().Should().BeTrue();
        hitBody.Should().Be("two");
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public void SetExpireAfter_Request_CanBeReadBack()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);

        request.SetExpireAfter(TimeSpan.FromMinutes(1)).Should().BeSameAs(request);

        request.GetExpireAfter().Should().Be(Expiration.After(TimeSpan.FromMinutes(1)));
        new HttpRequestMessage().GetExpireAfter().Should().BeNull();
    }
}
