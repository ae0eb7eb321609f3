using System.Net;

namespace CachedHttp.Tests.Integration.Rfc9111;

/// <summary>RFC 9111 §4.2 (freshness, age, heuristics), §3 (storing) and §5.2 parsing, over real sockets.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class FreshnessAndStorageTests : RfcFixture
{
    // The origin answers with these fields; the second request comes N seconds later (fake clock). Hit = no second origin request.
    [TestCase("Cache-Control: max-age=60", 30, true, TestName = "S4_2_1_MaxAge_FreshIsServed")]
    [TestCase("Cache-Control: max-age=60", 90, false, TestName = "S4_2_1_MaxAge_StaleIsFetched")]
    [TestCase("Expires: @100", 50, true, TestName = "S4_2_1_ExpiresMinusDate_FreshIsServed")]
    [TestCase("Expires: @100", 150, false, TestName = "S4_2_1_ExpiresMinusDate_StaleIsFetched")]
    [TestCase("Expires: 0", 1, false, TestName = "S5_3_ExpiresZero_IsStale")]
    [TestCase("Expires: @-100", 1, false, TestName = "S5_3_PastExpires_IsStale")]
    [TestCase("Cache-Control: max-age=3600|Expires: @-100", 10, true, TestName = "S5_3_MaxAge_WinsOverExpires")]
    [TestCase("Cache-Control: max-age=10|Age: 15", 1, false, TestName = "S4_2_3_AgeAboveMaxAge_IsStale")]
    [TestCase("Cache-Control: s-maxage=3600, max-age=1", 5, false, TestName = "S5_2_2_10_SMaxAge_IgnoredByAPrivateCache")]
    [TestCase("Cache-Control: no-store", 1, false, TestName = "S5_2_2_5_NoStore_NotStored")]
    [TestCase("Cache-Control: max-age=3600, no-store", 1, false, TestName = "S5_2_2_5_NoStoreWithMaxAge_NotStored")]
    [TestCase("Cache-Control: private, max-age=60", 10, true, TestName = "S5_2_2_7_Private_StoredByAPrivateCache")]
    [TestCase("Cache-Control: public, max-age=60", 10, true, TestName = "S5_2_2_9_Public_Stored")]
    [TestCase("Cache-Control: must-revalidate, max-age=60", 10, true, TestName = "S5_2_2_2_MustRevalidate_FreshIsServed")]
    [TestCase("Cache-Control: max-age=60|Vary: *", 10, false, TestName = "S4_1_VaryStar_NeverServed")]
    [TestCase("Cache-Control: max-age =3600", 2, false, TestName = "S5_2_SpaceBeforeEquals_Ignored")]
    [TestCase("Cache-Control: max-age= 3600", 2, false, TestName = "S5_2_SpaceAfterEquals_Ignored")]
    [TestCase("Cache-Control: max-age=3600, max-age=1", 2, true, TestName = "S4_2_1_DuplicateMaxAge_FirstWins")]
    [TestCase("Cache-Control: max-age=1, max-age=3600", 2, false, TestName = "S4_2_1_DuplicateMaxAge_FirstWins_Stale")]
    [TestCase("Cache-Control: max-age=3600|Cache-Control: max-age=1", 2, true, TestName = "S4_2_1_DuplicateLines_FirstWins")]
    [TestCase("Cache-Control: extension=\"max-age=3600\", max-age=1", 2, false, TestName = "S5_2_QuotedMaxAge_IsNotADirective")]
    [TestCase("Cache-Control: max-age=\"3600\"", 2, true, TestName = "S5_2_QuotedValue_Accepted")]
    [TestCase("Cache-Control: MaX-AgE=3600", 2, true, TestName = "S5_2_CaseInsensitive")]
    [TestCase("Cache-Control: max-age=99999999999", 100000, true, TestName = "S1_2_2_HugeMaxAge_Saturates")]
    [TestCase("Cache-Control: max-age=abc", 1, false, TestName = "S4_2_1_InvalidMaxAge_IsStale")]
    [TestCase("Cache-Control: \",,=;max-age==3", 1, false, TestName = "S5_2_Garbage_NoException")]
    [TestCase("Cache-Control: foo, max-age=3600", 2, true, TestName = "S5_2_3_UnknownDirective_Ignored")]
    public async Task SecondRequest_Table(string fields, int secondsLater, bool hit)
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script((context, _) => Reply(context, 200, fields));

        (await SendAsync(session, path)).Response.IsFromCache().Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(secondsLater));
        var (second, _) = await SendAsync(session, path);

        second.IsFromCache().Should().Be(hit);
        Origin.Requests(path).Should().Be(hit ? 1 : 2);
    }

    [Test]
    public async Task S4_ServedResponse_CarriesTheCurrentAge_AndTheOriginalDate()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script((context, _) => Reply(context, 200, "Cache-Control: max-age=600|Age: 30"));
        var (first, _) = await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(100));

        var (hit, _) = await SendAsync(session, path);

        hit.IsFromCache().Should().BeTrue();
        hit.Headers.Age!.Value.TotalSeconds.Should().BeInRange(130, 132);
        hit.Headers.Date.Should().Be(first.Headers.Date);
    }

    [Test]
    public async Task S4_2_2_Heuristic_FromLastModified_ThenRevalidated()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = "/last-modified?u=" + Unique(); // Last-Modified one day ago: 10% = 8640 s of heuristic freshness.
        await SendAsync(session, path);

        time.Advance(TimeSpan.FromSeconds(1000));
        (await SendAsync(session, path)).Response.GetCacheInfo().Status.Should().Be(CacheStatus.Hit);
        time.Advance(TimeSpan.FromSeconds(8000));
        var (revalidated, body) = await SendAsync(session, path);

        revalidated.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("last-modified");
        Origin.RecordedRequests.Last(r => r.Query.Contains(path[(path.IndexOf('?', StringComparison.Ordinal) + 1)..], StringComparison.Ordinal)).Header("If-Modified-Since").Should().NotBeNull();
    }

    [Test]
    public async Task S4_2_2_Heuristic_NotUsedWhenTheUserSetAnExpiration()
    {
        var (session, time) = NewRfcSession(o => o.ExpireAfter = TimeSpan.FromSeconds(60));
        using var _ = session;
        var path = "/last-modified?u=" + Unique();
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(120));

        (await SendAsync(session, path)).Response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
    }

    [TestCase("max-age=3600, immutable", 1, TestName = "RFC8246_FreshImmutable_RefreshDoesNotRevalidate")]
    [TestCase("max-age=3600", 2, TestName = "RFC8246_NotImmutable_RefreshRevalidates")]
    public async Task RFC8246_Immutable_SetRefresh(string cacheControl, int originRequests)
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = "/etag/imm" + Unique() + "?cc=" + Uri.EscapeDataString(cacheControl);
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(10));

        await SendAsync(session, path, setup: r => r.SetRefresh());

        Origin.Requests(path.Split('?')[0]).Should().Be(originRequests);
    }

    [TestCase(false, false, TestName = "S3_AllowedCodes_404WithMaxAgeNotStoredByDefault")]
    [TestCase(true, true, TestName = "S3_AllowedCodes_404WithMaxAgeStoredWhenAllowed")]
    public async Task S3_AllowedCodes_RemainTheGate(bool allow404, bool hit)
    {
        var (session, _) = NewRfcSession(o =>
        {
            if (allow404)
            {
                o.AllowedCodes.Add(404);
            }
        });
        using var __ = session;
        var path = Script((context, _) => Reply(context, 404, "Cache-Control: max-age=600", "gone"));
        await SendAsync(session, path);

        var (second, _) = await SendAsync(session, path);

        second.StatusCode.Should().Be(HttpStatusCode.NotFound);
        second.IsFromCache().Should().Be(hit);
    }

    [Test]
    public async Task S5_2_2_4_NoCache_StoredButRevalidatedEveryTime()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = "/etag/nc" + Unique() + "?cc=" + Uri.EscapeDataString("max-age=600, no-cache");
        await SendAsync(session, path);

        var (second, body) = await SendAsync(session, path);
        var (third, _) = await SendAsync(session, path);

        second.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        third.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().StartWith("etag ");
        Origin.NotModifiedCount(path.Split('?')[0]).Should().Be(2);
    }

    [Test]
    public async Task S3_5_Authorization_StoredPerCredential()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = Script((context, n) => Reply(context, 200, "Cache-Control: max-age=600", "n=" + n));

        await SendAsync(session, path, "Authorization: Bearer alice");
        (await SendAsync(session, path, "Authorization: Bearer alice")).Body.Should().Be("n=0");
        (await SendAsync(session, path, "Authorization: Bearer bob")).Body.Should().Be("n=1");
        Origin.Requests(path).Should().Be(2);
    }

    [Test]
    public async Task S3_1_ConnectionListedFields_AreNotStored()
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = Script((context, _) => Reply(context, 200, "Cache-Control: max-age=600|Connection: X-Hop|X-Hop: 1|X-Kept: 2"));
        await SendAsync(session, path);

        var (hit, _) = await SendAsync(session, path);

        hit.IsFromCache().Should().BeTrue();
        hit.Headers.Contains("X-Hop").Should().BeFalse();
        hit.Headers.GetValues("X-Kept").Should().Equal("2");
    }
}
