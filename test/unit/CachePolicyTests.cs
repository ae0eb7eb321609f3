using System.Net;
using CachedHttp.Policy;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>The freshness rules as pure functions: which expiration wins, and how a stored response may be used.</summary>
[Parallelizable(ParallelScope.All)]
public class CachePolicyTests
{
    private const string Url = "https://example.com/resource";
    private const string NotStored = "not stored";
    private const string Never = "never";
    private static readonly DateTimeOffset Now = TestCache.Start;

    private static CacheOptions Options(string? sessionDefault, string? pattern, bool cacheControl)
    {
        var options = new CacheOptions { CacheControl = cacheControl };
        if (sessionDefault is not null)
        {
            options.ExpireAfter = Expiration.Parse(sessionDefault);
        }

        if (pattern is not null)
        {
            options.UrlsExpireAfter["example.com/resource"] = Expiration.Parse(pattern);
        }

        return options;
    }

    private static CachedResponse Response(string? cacheControl = null, string? expires = null, string? date = null, string? etag = null, string? lastModified = null, HttpStatusCode status = HttpStatusCode.OK)
    {
        var headers = new List<KeyValuePair<string, string[]>>();
        var contentHeaders = new List<KeyValuePair<string, string[]>>();
        if (cacheControl is not null)
        {
            headers.Add(new("Cache-Control", [cacheControl]));
        }

        if (date is not null)
        {
            headers.Add(new("Date", [date]));
        }

        if (etag is not null)
        {
            headers.Add(new("ETag", [etag]));
        }

        if (expires is not null)
        {
            contentHeaders.Add(new("Expires", [expires]));
        }

        if (lastModified is not null)
        {
            contentHeaders.Add(new("Last-Modified", [lastModified]));
        }

        return new CachedResponse
        {
            Method = "GET",
            Url = new Uri(Url),
            StatusCode = status,
            Headers = new CachedHeaders(headers),
            ContentHeaders = new CachedHeaders(contentHeaders),
            RequestTime = Now,
            CreatedAt = Now,
        };
    }

    private static string Describe(StoragePlan plan)
        => !plan.Store ? NotStored
            : plan.ExpiresAt is null ? Never
            : ((long)(plan.ExpiresAt.Value - Now).TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Plan(CacheOptions options, CachedResponse response, string? perRequest = null, string? requestCacheControl = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        if (requestCacheControl is not null)
        {
            request.Headers.TryAddWithoutValidation("Cache-Control", requestCacheControl);
        }

        var settings = new RequestSettings(perRequest is null ? null : Expiration.Parse(perRequest), false, false, false);
        var actions = CachePolicy.ForRequest(request, options, settings);
        return Describe(CachePolicy.ForResponse(response, actions, options));
    }

    // Cache-Control off: per-request > URL pattern > session default. Expected: seconds until expiry, "never" or "not stored".
    [TestCase(null, null, null, Never, TestName = "ForResponse_NothingSet_NeverExpires")]
    [TestCase("60", null, null, "60", TestName = "ForResponse_SessionDefaultOnly_UsesSessionDefault")]
    [TestCase("60", "120", null, "120", TestName = "ForResponse_PatternAndDefault_PatternWins")]
    [TestCase("60", "120", "30", "30", TestName = "ForResponse_PerRequestPatternAndDefault_PerRequestWins")]
    [TestCase(null, "120", "30", "30", TestName = "ForResponse_PerRequestAndPattern_PerRequestWins")]
    [TestCase("60", null, "30", "30", TestName = "ForResponse_PerRequestAndDefault_PerRequestWins")]
    [TestCase("60", null, "-1", Never, TestName = "ForResponse_PerRequestNever_OverridesDefault")]
    [TestCase("-1", "120", null, "120", TestName = "ForResponse_PatternOverDefaultNever_PatternWins")]
    [TestCase("60", "0", null, NotStored, TestName = "ForResponse_PatternDoNotCache_NotStored")]
    [TestCase("60", "0", "30", "30", TestName = "ForResponse_PerRequestOverPatternDoNotCache_PerRequestWins")]
    [TestCase("0", null, null, NotStored, TestName = "ForResponse_DefaultDoNotCache_NotStored")]
    [TestCase("0", "120", null, "120", TestName = "ForResponse_PatternOverDefaultDoNotCache_PatternWins")]
    [TestCase("0", null, "30", "30", TestName = "ForResponse_PerRequestOverDefaultDoNotCache_PerRequestWins")]
    [TestCase("60", "120", "0", NotStored, TestName = "ForResponse_PerRequestDoNotCache_NotStored")]
    [TestCase(null, null, "immediate", "0", TestName = "ForResponse_PerRequestExpireImmediately_StoredAlreadyExpired")]
    public void ForResponse_CacheControlOff_PrecedenceTable(string? sessionDefault, string? pattern, string? perRequest, string expected)
    {
        var options = Options(sessionDefault, pattern, cacheControl: false);

        Plan(options, Response(cacheControl: "max-age=999"), perRequest).Should().Be(expected);
    }

    // Cache-Control on: response headers > request headers > per-request > URL pattern > session default.
    [TestCase("max-age=10", null, "max-age=20", "30", "40", "50", "10", TestName = "ForResponse_ResponseMaxAge_WinsOverEverything")]
    [TestCase(null, null, "max-age=20", "30", "40", "50", "20", TestName = "ForResponse_RequestMaxAge_WinsOverSettings")]
    [TestCase(null, null, null, "30", "40", "50", "30", TestName = "ForResponse_CacheControlOnPerRequest_WinsOverPatternAndDefault")]
    [TestCase(null, null, null, null, "40", "50", "40", TestName = "ForResponse_CacheControlOnPattern_WinsOverDefault")]
    [TestCase(null, null, null, null, null, "50", "50", TestName = "ForResponse_CacheControlOnDefault_Applies")]
    [TestCase("no-store", null, null, "30", "40", "50", NotStored, TestName = "ForResponse_ResponseNoStore_NotStoredDespiteSettings")]
    [TestCase(null, null, "no-store", "30", "40", "50", NotStored, TestName = "ForResponse_RequestNoStore_NotStoredDespiteSettings")]
    [TestCase(null, "+100", null, "30", "40", "50", "100", TestName = "ForResponse_ResponseExpires_WinsOverSettings")]
    [TestCase("max-age=10", "+100", null, null, null, null, "10", TestName = "ForResponse_MaxAgeAndExpires_MaxAgeWins")]
    [TestCase(null, "-100", null, "30", "40", "50", NotStored, TestName = "ForResponse_ResponseExpiresInThePast_StaleSoNotStored")]
    [TestCase(null, "0", null, "30", "40", "-1", NotStored, TestName = "ForResponse_UnparseableExpires_StaleNotNever")]
    [TestCase(null, "garbage", null, null, null, "-1", NotStored, TestName = "ForResponse_GarbageExpires_StaleNotNever")]
    [TestCase("max-age=0", null, null, "30", "40", "50", NotStored, TestName = "ForResponse_ResponseMaxAgeZero_StaleSoNotStored")]
    public void ForResponse_CacheControlOn_PrecedenceTable(string? responseCacheControl, string? expires, string? requestCacheControl, string? perRequest, string? pattern, string? sessionDefault, string expected)
    {
        var options = Options(sessionDefault, pattern, cacheControl: true);
        var response = Response(cacheControl: responseCacheControl, expires: ExpiresHeader(expires), date: HttpDates.Format(Now));

        Plan(options, response, perRequest, requestCacheControl).Should().Be(expected);
    }

    [Test]
    public void ForResponse_ExpiresWithoutDate_ExpiresAtExpires()
    {
        // RFC 9111 §4.2.1: without Date, Expires is compared with the time the response was received.
        var options = Options(null, null, cacheControl: true);
        var response = Response(expires: HttpDates.Format(Now.AddSeconds(100)));

        Plan(options, response).Should().Be("100");
    }

    [Test]
    public void ForResponse_UnparseableExpiresWithValidator_StoredAlreadyExpired()
    {
        var options = Options("-1", null, cacheControl: true);

        Plan(options, Response(expires: "0", date: HttpDates.Format(Now), etag: "\"v1\"")).Should().Be("0");
    }

    [Test]
    public void ForResponse_ResponseNoCache_StoredAlreadyExpired()
    {
        var options = Options("60", null, cacheControl: true);

        Plan(options, Response(cacheControl: "no-cache, max-age=100", etag: "\"v1\"")).Should().Be("0");
    }

    [Test]
    public void ForResponse_CacheControlOnAndAge_MaxAgeCountsFromOrigin()
    {
        var options = Options(null, null, cacheControl: true);
        var response = Response(cacheControl: "max-age=100", date: HttpDates.Format(Now)) is var r
            ? r with { Headers = r.Headers.Merge([new("Age", ["40"])]) }
            : null!;

        Plan(options, response).Should().Be("60");
    }

    [Test]
    public void ForResponse_CacheControlOff_ResponseHeadersIgnored()
    {
        var options = Options("60", null, cacheControl: false);

        Plan(options, Response(cacheControl: "no-store")).Should().Be("60");
    }

    [TestCase(404)]
    [TestCase(500)]
    [TestCase(301)]
    public void ForResponse_StatusNotAllowed_NotStored(int status)
    {
        Plan(new CacheOptions(), Response(status: (HttpStatusCode)status)).Should().Be(NotStored);
    }

    [Test]
    public void ForResponse_StatusAllowed_Stored()
    {
        var options = new CacheOptions { AllowedCodes = new HashSet<int> { 200, 404 } };

        Plan(options, Response(status: HttpStatusCode.NotFound)).Should().Be(Never);
    }

    [Test]
    public void ForResponse_MethodNotAllowed_NotStored()
    {
        var options = new CacheOptions();
        var actions = CachePolicy.ForRequest(new HttpRequestMessage(HttpMethod.Get, Url), options, RequestSettings.None);

        CachePolicy.ForResponse(Response() with { Method = "POST" }, actions, options).Store.Should().BeFalse();
    }

    [Test]
    public void ForRequest_MethodNotAllowed_SkipsReadAndWrite()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url);

        var actions = CachePolicy.ForRequest(request, new CacheOptions(), RequestSettings.None);

        actions.SkipRead.Should().BeTrue();
        actions.SkipWrite.Should().BeTrue();
    }

    [Test]
    public void ForRequest_DoNotCache_SkipsReadAndWrite()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);

        var actions = CachePolicy.ForRequest(request, new CacheOptions { ExpireAfter = Expiration.DoNotCache }, RequestSettings.None);

        actions.SkipRead.Should().BeTrue();
        actions.SkipWrite.Should().BeTrue();
    }

    [Test]
    public void ForRequest_ForceRefresh_SkipsReadOnly()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);

        var actions = CachePolicy.ForRequest(request, new CacheOptions(), new RequestSettings(null, false, true, false));

        actions.SkipRead.Should().BeTrue();
        actions.SkipWrite.Should().BeFalse();
    }

    [TestCase("no-cache", false, false, true)]
    [TestCase("no-store", true, true, false)]
    [TestCase("max-age=5", false, false, false)]
    public void ForRequest_RequestCacheControl_SetsActions(string cacheControl, bool skipRead, bool skipWrite, bool revalidate)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);

        var actions = CachePolicy.ForRequest(request, new CacheOptions { CacheControl = true }, RequestSettings.None);

        actions.SkipRead.Should().Be(skipRead);
        actions.SkipWrite.Should().Be(skipWrite);
        actions.Revalidate.Should().Be(revalidate);
    }

    [Test]
    public void ForRequest_RequestCacheControlWithCacheControlOff_IsIgnored()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        request.Headers.TryAddWithoutValidation("Cache-Control", "no-store");

        var actions = CachePolicy.ForRequest(request, new CacheOptions(), RequestSettings.None);

        actions.SkipRead.Should().BeFalse();
        actions.SkipWrite.Should().BeFalse();
    }

    [Test]
    public void ForRequest_PragmaNoCacheWithoutCacheControl_Revalidates()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        request.Headers.TryAddWithoutValidation("Pragma", "no-cache");

        CachePolicy.ForRequest(request, new CacheOptions { CacheControl = true }, RequestSettings.None).Revalidate.Should().BeTrue();
    }

    // Evaluate with Cache-Control off: freshness comes only from ExpiresAt.
    [TestCase(100, false, false, "Fresh", TestName = "Evaluate_NotExpired_Fresh")]
    [TestCase(null, false, false, "Fresh", TestName = "Evaluate_NeverExpires_Fresh")]
    [TestCase(-1, false, false, "Unusable", TestName = "Evaluate_ExpiredWithoutValidator_Unusable")]
    [TestCase(-1, true, false, "Revalidate", TestName = "Evaluate_ExpiredWithValidator_Revalidate")]
    [TestCase(0, false, false, "Unusable", TestName = "Evaluate_ExpiresNow_Unusable")]
    [TestCase(100, true, true, "Revalidate", TestName = "Evaluate_RefreshWithValidator_Revalidate")]
    [TestCase(100, false, true, "Unusable", TestName = "Evaluate_RefreshWithoutValidator_Unusable")]
    public void Evaluate_CacheControlOff_Table(int? expiresInSeconds, bool hasValidator, bool refresh, string expected)
    {
        var options = new CacheOptions();
        var stored = Response(etag: hasValidator ? "\"v1\"" : null) with { ExpiresAt = expiresInSeconds is { } s ? Now.AddSeconds(s) : null };
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        var actions = CachePolicy.ForRequest(request, options, new RequestSettings(null, refresh, false, false));

        CachePolicy.Evaluate(stored, actions, options, Now).ToString().Should().Be(expected);
    }

    [TestCase(null, 30, "Fresh", TestName = "Evaluate_CacheControlOnYoungerThanMaxAge_Fresh")]
    [TestCase(null, 150, "Unusable", TestName = "Evaluate_CacheControlOnOlderThanMaxAge_Unusable")]
    [TestCase("max-age=20", 30, "Unusable", TestName = "Evaluate_RequestMaxAgeBelowAge_Unusable")]
    [TestCase("max-age=60", 30, "Fresh", TestName = "Evaluate_RequestMaxAgeAboveAge_Fresh")]
    [TestCase("no-cache", 30, "Unusable", TestName = "Evaluate_RequestNoCacheWithoutValidator_Unusable")]
    [TestCase("max-stale=100", 150, "StaleAllowed", TestName = "Evaluate_RequestMaxStale_StaleAllowed")]
    [TestCase("min-fresh=80", 30, "Unusable", TestName = "Evaluate_RequestMinFreshNotMet_Unusable")]
    public void Evaluate_CacheControlOn_Table(string? requestCacheControl, int ageSeconds, string expected)
    {
        var options = new CacheOptions { CacheControl = true };
        var stored = Response(cacheControl: "max-age=100", date: HttpDates.Format(Now)) with { ExpiresAt = Now.AddSeconds(100) };
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);
        if (requestCacheControl is not null)
        {
            request.Headers.TryAddWithoutValidation("Cache-Control", requestCacheControl);
        }

        var actions = CachePolicy.ForRequest(request, options, RequestSettings.None);

        CachePolicy.Evaluate(stored, actions, options, Now.AddSeconds(ageSeconds)).ToString().Should().Be(expected);
    }

    [Test]
    public void Evaluate_ResponseNoCacheWithValidator_Revalidate()
    {
        var options = new CacheOptions { CacheControl = true };
        var stored = Response(cacheControl: "no-cache", etag: "\"v1\"") with { ExpiresAt = Now.AddSeconds(100) };
        var actions = CachePolicy.ForRequest(new HttpRequestMessage(HttpMethod.Get, Url), options, RequestSettings.None);

        CachePolicy.Evaluate(stored, actions, options, Now).Should().Be(StoredUse.Revalidate);
    }

    [Test]
    public void ExplicitLifetime_InvalidExpires_IsZero()
    {
        var lifetime = CachePolicy.ExplicitLifetime(CacheControlDirectives.None, CachedHeaders.Empty, new CachedHeaders([new("Expires", ["0"])]));

        lifetime.Should().Be(TimeSpan.Zero);
    }

    // The original's URL-pattern table: compared without scheme, prefix match, first match wins.
    [TestCase("https://img.site_1.com/image.jpg", "1h")]
    [TestCase("http://img.site_1.com/image.jpg", "1h")]
    [TestCase("https://IMG.SITE_1.COM/a", "1h")]
    [TestCase("https://site_2.com/resource_1", "2h")]
    [TestCase("https://site_2.com/resource_1/subresource", "2h")]
    [TestCase("https://site_2.com/resource_1?x=1", "2h")]
    [TestCase("https://site_2.com/resource_2", "1d")]
    [TestCase("https://site_2.com/static/img.jpg", "-1")]
    [TestCase("https://httpbin.org/delay/1", "5m")]
    [TestCase("https://httpbin.org/get", null)]
    [TestCase("https://site_2.com/", null)]
    [TestCase("https://site_3.com/x", null)]
    public void Match_OriginalPatternTable_GivesExpiration(string url, string? expected)
    {
        var patterns = new OrderedDictionary<string, Expiration>
        {
            ["*.site_1.com"] = Expiration.Parse("1h"),
            ["site_2.com/resource_1"] = Expiration.Parse("2h"),
            ["site_2.com/resource_2"] = Expiration.Parse("1d"),
            ["site_2.com/static"] = Expiration.Never,
            ["httpbin.org/delay"] = Expiration.Parse("5m"),
        };

        var match = UrlPatterns.Match(patterns, new Uri(url));

        if (expected is null)
        {
            match.Should().BeNull();
        }
        else
        {
            match.Should().Be(Expiration.Parse(expected));
        }
    }

    [Test]
    public void Match_EmptyPattern_MatchesEveryUrl()
    {
        var patterns = new OrderedDictionary<string, Expiration> { [""] = Expiration.DoNotCache };

        UrlPatterns.Match(patterns, new Uri("https://anything.example/at/all?q=1")).Should().Be(Expiration.DoNotCache);
    }

    [Test]
    public void Match_SeveralMatchingPatterns_FirstWins()
    {
        var patterns = new OrderedDictionary<string, Expiration>
        {
            ["*.site_1.com"] = Expiration.FromSeconds(60),
            ["img.site_1.com"] = Expiration.FromSeconds(120),
            [""] = Expiration.FromSeconds(180),
        };

        UrlPatterns.Match(patterns, new Uri("https://img.site_1.com/a")).Should().Be(Expiration.FromSeconds(60));
    }

    [Test]
    public void Match_PatternWithScheme_ComparedWithoutScheme()
    {
        var patterns = new OrderedDictionary<string, Expiration> { ["http://example.com/api"] = Expiration.FromSeconds(60) };

        UrlPatterns.Match(patterns, new Uri("https://example.com/api/v1")).Should().Be(Expiration.FromSeconds(60));
    }

    [Test]
    public void Match_QuestionMark_MatchesOneCharacter()
    {
        UrlPatterns.IsMatch("example.com/v?/items", "example.com/v2/items").Should().BeTrue();
        UrlPatterns.IsMatch("example.com/v?/items", "example.com/v10/items").Should().BeFalse();
    }

    [Test]
    public void Match_RegexCharactersInPattern_AreLiteral()
    {
        UrlPatterns.IsMatch("example.com/a+b", "example.com/a+b/c").Should().BeTrue();
        UrlPatterns.IsMatch("example.com/a+b", "example.com/aab").Should().BeFalse();
        UrlPatterns.IsMatch("example.com/a.b", "example.com/axb").Should().BeFalse();
    }

    private static string? ExpiresHeader(string? spec)
    {
        if (spec is null)
        {
            return null;
        }

        return spec.StartsWith('+') || (spec.StartsWith('-') && spec.Length > 1)
            ? HttpDates.Format(Now.AddSeconds(int.Parse(spec, System.Globalization.CultureInfo.InvariantCulture)))
            : spec;
    }
}
