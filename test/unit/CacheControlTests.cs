using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>The original's subset of Cache-Control handling, end to end through the handler (CacheOptions.CacheControl on).</summary>
[Parallelizable(ParallelScope.All)]
public class CacheControlTests
{
    private const string Url = "https://example.com/cc";

    private static TestCache Create(Action<CacheOptions>? configure = null) => new(o =>
    {
        o.CacheControl = true;
        configure?.Invoke(o);
    });

    private static StubResponse Answer(int call, params (string Name, string Value)[] headers)
    {
        var response = StubResponse.Ok("call " + call);
        foreach (var (name, value) in headers)
        {
            response.WithHeader(name, value);
        }

        return response;
    }

    [Test]
    public async Task Send_ResponseMaxAge_ServedUntilItExpires()
    {
        using var cache = Create();
        cache.Stub.Default = r => Answer(r.Call, ("Cache-Control", "max-age=60"));

        var (first, _) = await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromSeconds(59));
        var (hit, hitBody) = await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromSeconds(2));
        var (expired, expiredBody) = await cache.GetAsync(Url);

        first.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddSeconds(60));
        hit.IsFromCache().Should().BeTrue();
        hitBody.Should().Be("call 1");
        expired.IsFromCache().Should().BeFalse();
        expiredBody.Should().Be("call 2");
    }

    [Test]
    public async Task Send_ResponseMaxAge_OverridesSessionDefault()
    {
        using var cache = Create(o => o.ExpireAfter = TimeSpan.FromDays(1));
        cache.Stub.Default = r => Answer(r.Call, ("Cache-Control", "max-age=10"));

        var (first, _) = await cache.GetAsync(Url);

        first.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddSeconds(10));
    }

    [Test]
    public async Task Send_ResponseMaxAgeWithCacheControlOff_IsIgnored()
    {
        using var cache = new TestCache();
        cache.Stub.Default = r => Answer(r.Call, ("Cache-Control", "max-age=10"));

        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(5));
        var (hit, _) = await cache.GetAsync(Url);

        hit.IsFromCache().Should().BeTrue();
    }

    [Test]
    public async Task Send_ResponseNoStore_IsNotStored()
    {
        using var cache = Create(o => o.ExpireAfter = TimeSpan.FromDays(1));
        cache.Stub.Default = r => Answer(r.Call, ("Cache-Control", "no-store"));

        await cache.GetAsync(Url);
        await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_ResponseExpiresInTheFuture_ServedUntilThen()
    {
        using var cache = Create();
        cache.Stub.Default = r => Answer(r.Call, ("Date", HttpDates.Format(TestCache.Start)), ("Expires", HttpDates.Format(TestCache.Start.AddMinutes(5))));

        var (first, _) = await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(4));
        var (hit, _) = await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(1));
        var (expired, _) = await cache.GetAsync(Url);

        first.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddMinutes(5));
        hit.IsFromCache().Should().BeTrue();
        expired.IsFromCache().Should().BeFalse();
    }

    [Test]
    public async Task Send_ResponseExpiresWithoutDate_ServedUntilExpires()
    {
        using var cache = Create();
        cache.Stub.Default = r => Answer(r.Call, ("Expires", HttpDates.Format(TestCache.Start.AddMinutes(5))));

        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromMinutes(4));
        var (hit, _) = await cache.GetAsync(Url);

        hit.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_ResponseExpiresInThePast_IsStale()
    {
        using var cache = Create(o => o.ExpireAfter = Expiration.Never);
        cache.Stub.Default = r => Answer(r.Call, ("Date", HttpDates.Format(TestCache.Start)), ("Expires", HttpDates.Format(TestCache.Start.AddHours(-1))));

        await cache.GetAsync(Url);
        var (second, body) = await cache.GetAsync(Url);

        second.IsFromCache().Should().BeFalse();
        body.Should().Be("call 2");
    }

    [TestCase("0")]
    [TestCase("-1")]
    [TestCase("not a date")]
    public async Task Send_UnparseableExpires_IsStaleNotNever(string expires)
    {
        using var cache = Create(o => o.ExpireAfter = Expiration.Never);
        cache.Stub.Default = r => Answer(r.Call, ("Date", HttpDates.Format(TestCache.Start)), ("Expires", expires));

        await cache.GetAsync(Url);
        var (second, body) = await cache.GetAsync(Url);

        second.IsFromCache().Should().BeFalse();
        body.Should().Be("call 2");
    }

    [Test]
    public async Task Send_UnparseableExpiresWithETag_IsRevalidatedNotServed()
    {
        using var cache = Create();
        cache.Stub.RespondInSequence(
            Url,
            StubResponse.Ok("first").WithHeader("ETag", "\"v1\"").WithHeader("Expires", "0"),
            StubResponse.NotModified().WithHeader("ETag", "\"v1\"").WithHeader("Expires", "0"));

        await cache.GetAsync(Url);
        var (second, body) = await cache.GetAsync(Url);

        cache.Stub.TotalCalls.Should().Be(2);
        cache.Stub.RequestsTo(Url)[1].Header("If-None-Match").Should().Be("\"v1\"");
        body.Should().Be("first");
        second.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
    }

    [Test]
    public async Task Send_RequestMaxAge_SetsExpirationOfWhatItStores()
    {
        using var cache = Create();

        var (first, _) = await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("Cache-Control", "max-age=30"));

        first.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddSeconds(30));
    }

    [Test]
    public async Task Send_RequestMaxAgeSmallerThanAge_FetchesAgain()
    {
        using var cache = Create();
        cache.Stub.Default = r => Answer(r.Call, ("Cache-Control", "max-age=600"));
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromSeconds(100));

        var (young, _) = await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("Cache-Control", "max-age=200"));
        var (old, body) = await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("Cache-Control", "max-age=50"));

        young.IsFromCache().Should().BeTrue();
        old.IsFromCache().Should().BeFalse();
        body.Should().Be("call 2");
    }

    [Test]
    public async Task Send_RequestNoCache_GoesToTheNetwork()
    {
        using var cache = Create(o => o.ExpireAfter = TimeSpan.FromHours(1));
        await cache.GetAsync(Url);

        var (response, _) = await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("Cache-Control", "no-cache"));

        response.IsFromCache().Should().BeFalse();
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Send_RequestNoCacheWithValidator_SendsConditionalRequest()
    {
        using var cache = Create(o => o.ExpireAfter = TimeSpan.FromHours(1));
        cache.Stub.RespondInSequence(Url, StubResponse.Ok("first").WithHeader("ETag", "\"v1\""), StubResponse.NotModified());
        await cache.GetAsync(Url);

        var (response, body) = await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("Cache-Control", "no-cache"));

        cache.Stub.RequestsTo(Url)[1].Header("If-None-Match").Should().Be("\"v1\"");
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("first");
    }

    [Test]
    public async Task Send_RequestNoStore_NeitherReadsNorWrites()
    {
        using var cache = Create(o => o.ExpireAfter = TimeSpan.FromHours(1));
        cache.Stub.Default = r => StubResponse.Ok("call " + r.Call);
        await cache.GetAsync(Url);

        var (bypassed, body) = await cache.GetAsync(Url, r => r.Headers.TryAddWithoutValidation("Cache-Control", "no-store"));
        await cache.GetAsync("https://example.com/new", r => r.Headers.TryAddWithoutValidation("Cache-Control", "no-store"));

        bypassed.IsFromCache().Should().BeFalse();
        body.Should().Be("call 2");
        (await cache.GetAsync(Url)).Body.Should().Be("call 1");
        (await cache.Backend.HasUrlAsync("https://example.com/new")).Should().BeFalse();
    }

    [Test]
    public async Task Send_HitWithCacheControl_HasCurrentAge()
    {
        using var cache = Create();
        cache.Stub.Default = r => Answer(r.Call, ("Cache-Control", "max-age=600"));
        await cache.GetAsync(Url);
        cache.Time.Advance(TimeSpan.FromSeconds(42));

        var (hit, _) = await cache.GetAsync(Url);

        hit.Headers.Age.Should().Be(TimeSpan.FromSeconds(42));
    }

    // The precedence order of the issue, end to end: response headers → request headers → per-request → URL pattern → session default.
    [TestCase("max-age=10", "max-age=20", 30, 40, 50, 10)]
    [TestCase(null, "max-age=20", 30, 40, 50, 20)]
    [TestCase(null, null, 30, 40, 50, 30)]
    [TestCase(null, null, null, 40, 50, 40)]
    [TestCase(null, null, null, null, 50, 50)]
    public async Task Send_CacheControlOn_PrecedenceTable(string? responseCacheControl, string? requestCacheControl, int? perRequest, int? pattern, int? sessionDefault, int expectedSeconds)
    {
        using var cache = Create(o =>
        {
            if (sessionDefault is { } d)
            {
                o.ExpireAfter = TimeSpan.FromSeconds(d);
            }

            if (pattern is { } p)
            {
                o.UrlsExpireAfter["example.com/cc"] = TimeSpan.FromSeconds(p);
            }
        });
        cache.Stub.Default = r => responseCacheControl is null ? Answer(r.Call) : Answer(r.Call, ("Cache-Control", responseCacheControl));

        var (response, _) = await cache.GetAsync(Url, r =>
        {
            if (requestCacheControl is not null)
            {
                r.Headers.TryAddWithoutValidation("Cache-Control", requestCacheControl);
            }

            if (perRequest is { } s)
            {
                r.SetExpireAfter(TimeSpan.FromSeconds(s));
            }
        });

        response.GetCacheInfo().ExpiresAt.Should().Be(TestCache.Start.AddSeconds(expectedSeconds));
        cache.Time.Advance(TimeSpan.FromSeconds(expectedSeconds - 1));
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeTrue();
        cache.Time.Advance(TimeSpan.FromSeconds(1));
        (await cache.GetAsync(Url)).Response.IsFromCache().Should().BeFalse();
    }
}
