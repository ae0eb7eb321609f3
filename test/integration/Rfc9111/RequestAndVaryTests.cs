using System.Net;

namespace CachedHttp.Tests.Integration.Rfc9111;

/// <summary>RFC 9111 §5.2.1 (request directives), §5.4 (Pragma) and §4.1 (Vary), over real sockets.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RequestAndVaryTests : RfcFixture
{
    // Stored: max-age=100 with an ETag (the origin answers 304 to If-None-Match). Second request N seconds later.
    [TestCase(null, 30, "Hit", 1, TestName = "S5_2_1_NoDirective_Hit")]
    [TestCase("Cache-Control: max-age=0", 1, "Revalidated", 2, TestName = "S5_2_1_1_MaxAgeZero_Revalidates")]
    [TestCase("Cache-Control: max-age=60", 30, "Hit", 1, TestName = "S5_2_1_1_MaxAgeAboveAge_Hit")]
    [TestCase("Cache-Control: max-age=20", 30, "Revalidated", 2, TestName = "S5_2_1_1_MaxAgeBelowAge_Revalidates")]
    [TestCase("Cache-Control: max-stale", 5000, "Stale", 1, TestName = "S5_2_1_2_MaxStaleWithoutValue_ServesStale")]
    [TestCase("Cache-Control: max-stale=100", 150, "Stale", 1, TestName = "S5_2_1_2_MaxStaleWithinLimit_ServesStale")]
    [TestCase("Cache-Control: max-stale=10", 150, "Revalidated", 2, TestName = "S5_2_1_2_MaxStaleBeyondLimit_Revalidates")]
    [TestCase("Cache-Control: min-fresh=80", 30, "Revalidated", 2, TestName = "S5_2_1_3_MinFreshNotMet_Revalidates")]
    [TestCase("Cache-Control: min-fresh=10", 30, "Hit", 1, TestName = "S5_2_1_3_MinFreshMet_Hit")]
    [TestCase("Cache-Control: no-cache", 1, "Revalidated", 2, TestName = "S5_2_1_4_NoCache_Revalidates")]
    [TestCase("Cache-Control: no-store", 1, "Bypassed", 2, TestName = "S5_2_1_5_NoStore_GoesToTheOrigin")]
    [TestCase("Cache-Control: only-if-cached", 30, "Hit", 1, TestName = "S5_2_1_7_OnlyIfCachedFresh_Hit")]
    [TestCase("Cache-Control: only-if-cached", 500, "OnlyIfCachedMiss", 1, TestName = "S5_2_1_7_OnlyIfCachedStale_504")]
    [TestCase("Pragma: no-cache", 1, "Revalidated", 2, TestName = "S5_4_PragmaNoCache_Revalidates")]
    [TestCase("Pragma: no-cache|Cache-Control: max-age=1000", 1, "Hit", 1, TestName = "S5_4_PragmaWithCacheControl_Ignored")]
    public async Task S5_2_1_RequestDirectives_Table(string? requestHeaders, int secondsLater, string expectedStatus, int originRequests)
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = "/etag/rq" + Unique() + "?cc=max-age%3D100";
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(secondsLater));

        var (response, _) = await SendAsync(session, path, requestHeaders);

        response.GetCacheInfo().Status.ToString().Should().Be(expectedStatus);
        Origin.Requests(path.Split('?')[0]).Should().Be(originRequests);
        if (expectedStatus == "OnlyIfCachedMiss")
        {
            response.StatusCode.Should().Be(HttpStatusCode.GatewayTimeout);
        }
    }

    [Test]
    public async Task S5_2_1_7_NothingStored_OnlyIfCachedAndSetOnlyIfCached_Give504()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = "/cache/60?u=" + Unique();

        (await SendAsync(session, path, "Cache-Control: only-if-cached")).Response.StatusCode.Should().Be(HttpStatusCode.GatewayTimeout);
        (await SendAsync(session, path, setup: r => r.SetOnlyIfCached())).Response.StatusCode.Should().Be(HttpStatusCode.GatewayTimeout);
        Origin.RecordedRequests.Should().NotContain(r => r.Query.Contains(path.Split('?')[1], StringComparison.Ordinal));
    }

    [Test]
    public async Task S5_2_1_5_RequestNoStore_DoesNotStore()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = Script((context, n) => Reply(context, 200, "Cache-Control: max-age=600", "n=" + n));

        await SendAsync(session, path, "Cache-Control: no-store");
        (await SendAsync(session, path)).Body.Should().Be("n=1");
    }

    [Test]
    public async Task S4_1_SeveralVariants_EachSelectedByItsRequestHeaders()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = "/vary?cc=max-age%3D600&u=" + Unique();

        (await SendAsync(session, path, "Accept-Language: en")).Body.Should().Be("en");
        (await SendAsync(session, path, "Accept-Language: de")).Body.Should().Be("de");
        var (en, enBody) = await SendAsync(session, path, "Accept-Language: en");
        var (de, deBody) = await SendAsync(session, path, "Accept-Language: de");
        var (fr, _) = await SendAsync(session, path, "Accept-Language: fr");

        (en.IsFromCache(), enBody).Should().Be((true, "en"));
        (de.IsFromCache(), deBody).Should().Be((true, "de"));
        fr.IsFromCache().Should().BeFalse();
    }

    [TestCase("X-Foo", "1,2", " 1, 2 ", true, TestName = "S4_1_Whitespace_Normalized")]
    [TestCase("Accept-Language", "EN", "en", true, TestName = "S4_1_CaseInsensitiveHeader_Normalized")]
    [TestCase("X-Foo", "ABC", "abc", false, TestName = "S4_1_CaseSensitiveHeader_Kept")]
    public async Task S4_1_Normalization(string header, string first, string second, bool hit)
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = $"/vary?by={header}&cc=max-age%3D600&u=" + Unique();
        await SendAsync(session, path, $"{header}: {first}");

        (await SendAsync(session, path, $"{header}: {second}")).Response.IsFromCache().Should().Be(hit);
    }

    [Test]
    public async Task S4_1_VariantStoredWithAnotherVaryList_StillSelectedByItsOwn()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = Script((context, n) => n == 0
            ? Reply(context, 200, "Cache-Control: max-age=600|Vary: Accept-Language", "by-language")
            : Reply(context, 200, "Cache-Control: max-age=600|Vary: X-Flavor", "by-flavor"));
        await SendAsync(session, path, "Accept-Language: en|X-Flavor: a");
        await SendAsync(session, path, "Accept-Language: de|X-Flavor: b");

        var (language, languageBody) = await SendAsync(session, path, "Accept-Language: en|X-Flavor: zzz");
        var (flavor, flavorBody) = await SendAsync(session, path, "Accept-Language: xx|X-Flavor: b");

        (language.IsFromCache(), languageBody).Should().Be((true, "by-language"));
        (flavor.IsFromCache(), flavorBody).Should().Be((true, "by-flavor"));
        Origin.Requests(path).Should().Be(2);
    }

    [Test]
    public async Task S4_3_1_VaryingRequestHeaders_AreSentWithTheConditionalRequest()
    {
        var (session, time) = NewRfcSession();
        using var __ = session;
        var path = "/vary?by=X-Abc&cc=max-age%3D1&u=" + Unique();
        await SendAsync(session, path, "X-Abc: 123");
        time.Advance(TimeSpan.FromSeconds(10));

        var (revalidated, body) = await SendAsync(session, path, "X-Abc: 123");

        revalidated.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("123");
        var last = Origin.RecordedRequests.Last(r => r.Path == "/vary" && r.Query.Contains(path.Split("u=")[1], StringComparison.Ordinal));
        last.Header("X-Abc").Should().Be("123");
        last.Header("If-None-Match").Should().NotBeNull();
    }
}
