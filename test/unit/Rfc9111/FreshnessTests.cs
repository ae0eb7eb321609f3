using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §4.2: freshness lifetime (§4.2.1), heuristics (§4.2.2), age (§4.2.3), Expires (§5.3), Age (§5.1), immutable (RFC 8246).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class FreshnessTests
{
    // Response received at T0 ("@N" = T0 + N seconds), evaluated N seconds later, no request directives.
    [TestCase("Cache-Control: max-age=60", 30, "Fresh", TestName = "S4_2_1_MaxAge_Fresh")]
    [TestCase("Cache-Control: max-age=60", 61, "Unusable", TestName = "S4_2_1_MaxAgeElapsed_StaleWithoutValidator")]
    [TestCase("Cache-Control: max-age=60|ETag: \"v\"", 61, "Revalidate", TestName = "S4_3_MaxAgeElapsedWithETag_Revalidated")]
    [TestCase("Cache-Control: max-age=60|Last-Modified: @-10", 61, "Revalidate", TestName = "S4_3_MaxAgeElapsedWithLastModified_Revalidated")]
    [TestCase("Cache-Control: max-age=0", 0, "NotStored", TestName = "S4_2_1_MaxAgeZero_NotStored")]
    [TestCase("Cache-Control: max-age=0|ETag: \"v\"", 0, "Revalidate", TestName = "S4_2_1_MaxAgeZeroWithETag_StoredStale")]
    [TestCase("Cache-Control: max-age=2147483648", 2000000000, "Fresh", TestName = "S1_2_2_MaxAge2To31_Fresh")]
    [TestCase("Cache-Control: max-age=99999999999", 2000000000, "Fresh", TestName = "S1_2_2_MaxAgeOverflow_Fresh")]
    [TestCase("Cache-Control: s-maxage=3600, max-age=1", 2, "Unusable", TestName = "S5_2_2_10_SMaxAge_IgnoredByPrivateCache")]
    [TestCase("Cache-Control: s-maxage=3600", 1, "NotStored", TestName = "S5_2_2_10_SMaxAgeAlone_GivesNoFreshness")]
    [TestCase("Cache-Control: max-age=3600|Expires: @-100|Date: @0", 10, "Fresh", TestName = "S5_3_MaxAgeWins_OverPastExpires")]
    [TestCase("Cache-Control: max-age=3600|Expires: 0|Date: @0", 10, "Fresh", TestName = "S5_3_MaxAgeWins_OverInvalidExpires")]
    [TestCase("Cache-Control: max-age=0|Expires: @10000|Date: @0", 1, "NotStored", TestName = "S5_3_MaxAgeZeroWins_OverFutureExpires")]
    [TestCase("Expires: @100|Date: @0", 99, "Fresh", TestName = "S4_2_1_ExpiresMinusDate_Fresh")]
    [TestCase("Expires: @100|Date: @0", 101, "Unusable", TestName = "S4_2_1_ExpiresMinusDate_Stale")]
    [TestCase("Expires: @100", 99, "Fresh", TestName = "S4_2_1_ExpiresWithoutDate_UsesResponseTime")]
    [TestCase("Expires: @100|Date: foo", 99, "Fresh", TestName = "S4_2_1_ExpiresWithInvalidDate_UsesResponseTime")]
    [TestCase("Expires: @200|Date: @100", 99, "Fresh", TestName = "S4_2_1_FastDate_LifetimeIsExpiresMinusDate")]
    [TestCase("Expires: @200|Date: @100", 101, "Unusable", TestName = "S4_2_1_FastDate_StaleAfterExpiresMinusDate")]
    [TestCase("Expires: @300|Date: @400", 0, "NotStored", TestName = "S4_2_1_ExpiresBeforeDate_NotStored")]
    [TestCase("Expires: @-100|Date: @0", 0, "NotStored", TestName = "S5_3_PastExpires_NotStored")]
    [TestCase("Expires: 0|Date: @0", 0, "NotStored", TestName = "S5_3_ExpiresZero_IsStale")]
    [TestCase("Expires: 0|Date: @0|ETag: \"v\"", 1, "Revalidate", TestName = "S5_3_ExpiresZeroWithETag_StoredStale")]
    [TestCase("Expires: Thu, 18 Aug 50 02:01:18 GMT|Date: @0", 0, "NotStored", TestName = "S5_3_ExpiresTwoDigitYear_Invalid")]
    [TestCase("Expires: @100|Expires: @200|Date: @0", 0, "NotStored", TestName = "S4_2_1_TwoExpires_ConsideredStale")]
    [TestCase("Cache-Control: max-age=10|Date: @0|Age: 15", 0, "NotStored", TestName = "S4_2_3_AgeAboveMaxAge_Stale")]
    [TestCase("Cache-Control: max-age=60|Age: 50", 9, "Fresh", TestName = "S4_2_3_AgeCounts_StillFresh")]
    [TestCase("Cache-Control: max-age=60|Age: 50", 11, "Unusable", TestName = "S4_2_3_AgeCounts_Stale")]
    [TestCase("Cache-Control: max-age=60|Date: @-50", 9, "Fresh", TestName = "S4_2_3_ApparentAge_StillFresh")]
    [TestCase("Cache-Control: max-age=60|Date: @-50", 11, "Unusable", TestName = "S4_2_3_ApparentAge_Stale")]
    [TestCase("Cache-Control: max-age=60|Date: @1000", 59, "Fresh", TestName = "S4_2_3_DateInTheFuture_NoNegativeAge")]
    [TestCase("Date: @-10|Expires: @10|Age: 25", 0, "NotStored", TestName = "S4_2_3_AgeAboveExpiresMinusDate_SlowDate")]
    [TestCase("Date: @10|Expires: @20|Age: 15", 0, "NotStored", TestName = "S4_2_3_AgeAboveExpiresMinusDate_FastDate")]
    [TestCase("Cache-Control: max-age=3600|Age: abc", 10, "Fresh", TestName = "S5_1_NonNumericAge_Ignored")]
    [TestCase("Cache-Control: max-age=3600|Age: -7200", 10, "Fresh", TestName = "S5_1_NegativeAge_Ignored")]
    [TestCase("Cache-Control: max-age=3600|Age: 7200.0", 10, "Fresh", TestName = "S5_1_FloatAge_Ignored")]
    [TestCase("Cache-Control: max-age=3600|Age: 0, 7200", 10, "Fresh", TestName = "S5_1_SeveralAges_FirstUsed")]
    [TestCase("Cache-Control: max-age=3600|Age: 7200, 0", 10, "NotStored", TestName = "S5_1_SeveralAges_FirstUsed_Old")]
    [TestCase("Cache-Control: max-age=3600|Age: 99999999999", 0, "NotStored", TestName = "S1_2_2_HugeAge_Saturates")]
    [TestCase("Cache-Control: max-age=60|Expires: Fri, 31 Dec 9999 23:59:59 GMT|Date: Mon, 01 Jan 1900 00:00:00 GMT", 30, "NotStored", TestName = "S1_2_2_ExtremeDates_NoOverflow")]
    [TestCase("Expires: Fri, 31 Dec 9999 23:59:59 GMT|Date: @0", 2000000000, "Fresh", TestName = "S1_2_2_FarExpires_SaturatesAt2To31")]
    public void S4_2_Freshness_Table(string response, int secondsLater, string expected)
        => Rfc.Outcome(response, secondsLater).Should().Be(expected);

    // §5.3 with RFC 9110 §5.6.7: Expires must be an HTTP-date in one of the three forms; anything else is in the past.
    [TestCase("Thu, 18 Aug 2050 02:01:18 GMT", true, TestName = "S5_3_ImfFixdate_Valid")]
    [TestCase("Thursday, 18-Aug-50 02:01:18 GMT", true, TestName = "S5_3_Rfc850Date_Valid")]
    [TestCase("Thu Aug 18 02:01:18 2050", true, TestName = "S5_3_AsctimeDate_Valid")]
    [TestCase("Thu Aug  8 02:01:18 2050", true, TestName = "S5_3_AsctimeOneDigitDay_Valid")]
    [TestCase("THU, 18 Aug 2050 02:01:18 GMT", true, TestName = "S5_3_WrongCaseWeekday_Accepted")]
    [TestCase("Thu, 18 AUG 2050 02:01:18 GMT", true, TestName = "S5_3_WrongCaseMonth_Accepted")]
    [TestCase("Thu, 18 Aug 2050 02:01:18 gMT", true, TestName = "S5_3_WrongCaseZone_Accepted")]
    [TestCase("Thu, 18 Aug 2050 02:01:18 UTC", false, TestName = "S5_3_UtcZone_Invalid")]
    [TestCase("Thu, 18 Aug 50 02:01:18 GMT", false, TestName = "S5_3_TwoDigitYear_Invalid")]
    [TestCase("Thu 18 Aug 2050 02:01:18 GMT", false, TestName = "S5_3_MissingComma_Invalid")]
    [TestCase("Thu, 18  Aug  2050 02:01:18 GMT", false, TestName = "S5_3_MultipleSpaces_Invalid")]
    [TestCase("Thu, 18-Aug-2050 02:01:18 GMT", false, TestName = "S5_3_DateDashes_Invalid")]
    [TestCase("Thu, 18 Aug 2050 02.01.18 GMT", false, TestName = "S5_3_TimePeriods_Invalid")]
    [TestCase("Thu, 18 Aug 2050 2:01:18 GMT", false, TestName = "S5_3_OneDigitHour_Invalid")]
    [TestCase("Thu, 31 Feb 2050 02:01:18 GMT", false, TestName = "S5_3_ImpossibleDay_Invalid")]
    [TestCase("2050-08-18T02:01:18Z", false, TestName = "S5_3_Iso8601_Invalid")]
    public void S5_3_ExpiresFormat_Table(string expires, bool valid)
        => Rfc.Outcome($"Expires: {expires}|Date: @0", 10).Should().Be(valid ? "Fresh" : "NotStored");

    // §4.2.2: heuristics — a fraction (10%) of the time since Last-Modified, capped (1 day), for heuristically cacheable statuses.
    [TestCase("Last-Modified: @-86400|Date: @0", 200, 8000, "Fresh", TestName = "S4_2_2_TenPercentOfAge_Fresh")]
    [TestCase("Last-Modified: @-86400|Date: @0", 200, 9000, "Revalidate", TestName = "S4_2_2_TenPercentOfAge_ThenRevalidated")]
    [TestCase("Last-Modified: @-8640000|Date: @0", 200, 86399, "Fresh", TestName = "S4_2_2_Capped_FreshUntilCap")]
    [TestCase("Last-Modified: @-8640000|Date: @0", 200, 86401, "Revalidate", TestName = "S4_2_2_Capped_StaleAfterCap")]
    [TestCase("Last-Modified: @100|Date: @0", 200, 1, "Revalidate", TestName = "S4_2_2_LastModifiedInTheFuture_NoHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 203, 10, "Fresh", TestName = "S4_2_2_Status203_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 204, 10, "Fresh", TestName = "S4_2_2_Status204_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 404, 10, "Fresh", TestName = "S4_2_2_Status404_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 405, 10, "Fresh", TestName = "S4_2_2_Status405_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 410, 10, "Fresh", TestName = "S4_2_2_Status410_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 414, 10, "Fresh", TestName = "S4_2_2_Status414_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 501, 10, "Fresh", TestName = "S4_2_2_Status501_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 201, 10, "NotStored", TestName = "S4_2_2_Status201_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 202, 10, "NotStored", TestName = "S4_2_2_Status202_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 403, 10, "NotStored", TestName = "S4_2_2_Status403_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 502, 10, "NotStored", TestName = "S4_2_2_Status502_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 503, 10, "NotStored", TestName = "S4_2_2_Status503_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 504, 10, "NotStored", TestName = "S4_2_2_Status504_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0", 599, 10, "NotStored", TestName = "S4_2_2_Status599_NotHeuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0|Cache-Control: public", 599, 10, "Fresh", TestName = "S4_2_2_Status599Public_Heuristic")]
    [TestCase("Last-Modified: @-86400|Date: @0|Expires: @-1", 200, 10, "Revalidate", TestName = "S4_2_2_ExplicitExpiration_NoHeuristic")]
    [TestCase("Last-Modified: @-10000|Pragma: no-cache", 200, 10, "Fresh", TestName = "S5_4_ResponsePragma_Ignored")]
    public void S4_2_2_Heuristic_Table(string response, int status, int secondsLater, string expected)
    {
        var options = Rfc.Options(o => o.AllowedCodes = new HashSet<int> { 200, 201, 202, 203, 204, 403, 404, 405, 410, 414, 501, 502, 503, 504, 599 });

        Rfc.Outcome(response, secondsLater, status: status, options: options).Should().Be(expected);
    }

    [Test]
    public void S4_2_2_HeuristicFreshnessOff_RevalidatesAtOnce()
    {
        var options = Rfc.Options(o => o.HeuristicFreshness = false);

        Rfc.Outcome("Last-Modified: @-86400|Date: @0", 10, options: options).Should().Be("Revalidate");
    }

    [Test]
    public void S4_2_2_HeuristicFractionAndCap_AreOptions()
    {
        var options = Rfc.Options(o =>
        {
            o.HeuristicFraction = 0.5;
            o.HeuristicMaxAge = TimeSpan.FromSeconds(100);
        });

        Rfc.Outcome("Last-Modified: @-1000|Date: @0", 99, options: options).Should().Be("Fresh");
        Rfc.Outcome("Last-Modified: @-1000|Date: @0", 101, options: options).Should().Be("Revalidate");
        Rfc.Outcome("Last-Modified: @-100|Date: @0", 49, options: options).Should().Be("Fresh");
        Rfc.Outcome("Last-Modified: @-100|Date: @0", 51, options: options).Should().Be("Revalidate");
    }

    [Test]
    public void S4_2_2_ExplicitSessionExpiration_OutranksHeuristic()
    {
        var options = Rfc.Options(o => o.ExpireAfter = TimeSpan.FromSeconds(60));

        Rfc.Outcome("Last-Modified: @-86400|Date: @0", 59, options: options).Should().Be("Fresh");
        Rfc.Outcome("Last-Modified: @-86400|Date: @0", 61, options: options).Should().Be("Revalidate");
    }

    // §4.2.3: corrected_initial_age = max(apparent_age, Age + response_delay).
    [TestCase(null, null, 0, 0, TestName = "S4_2_3_NoDateNoAge_Zero")]
    [TestCase("@-3", null, 0, 3, TestName = "S4_2_3_ApparentAge")]
    [TestCase("@-3", "5", 10, 15, TestName = "S4_2_3_AgePlusResponseDelay")]
    [TestCase("@-30", "5", 10, 30, TestName = "S4_2_3_ApparentAgeLarger")]
    [TestCase("@5", null, 0, 0, TestName = "S4_2_3_FutureDate_NotNegative")]
    public void S4_2_3_CorrectedInitialAge_Table(string? date, string? age, int responseDelay, int expectedSeconds)
    {
        var spec = string.Join('|', new[] { date is null ? null : "Date: " + date, age is null ? null : "Age: " + age }.Where(s => s is not null));
        var (headers, _) = Rfc.Headers(spec);

        CachePolicy.CorrectedInitialAge(headers, Rfc.T0.AddSeconds(-responseDelay), Rfc.T0).Should().Be(TimeSpan.FromSeconds(expectedSeconds));
    }

    [Test]
    public void S4_2_3_CurrentAge_AddsResidentTime()
    {
        var stored = Rfc.Response("Date: @-3|Age: 5|Cache-Control: max-age=100", delay: 2);

        CachePolicy.CurrentAge(stored, Rfc.T0.AddSeconds(20)).Should().Be(TimeSpan.FromSeconds(27));
    }

    // RFC 8246 §2: a fresh immutable response is not revalidated on a reload (SetRefresh); a stale one is, and a request
    // Cache-Control: no-cache still is.
    [TestCase("max-age=3600, immutable", 10, true, null, "Fresh", TestName = "RFC8246_FreshImmutable_RefreshServesIt")]
    [TestCase("max-age=3600", 10, true, null, "Revalidate", TestName = "RFC8246_FreshNotImmutable_RefreshRevalidates")]
    [TestCase("max-age=3600, immutable", 3601, true, null, "Revalidate", TestName = "RFC8246_StaleImmutable_RefreshRevalidates")]
    [TestCase("max-age=3600, immutable", 10, false, "Cache-Control: no-cache", "Revalidate", TestName = "RFC8246_FreshImmutable_RequestNoCacheRevalidates")]
    [TestCase("max-age=3600, immutable", 10, false, "Cache-Control: max-age=0", "Revalidate", TestName = "RFC8246_FreshImmutable_RequestMaxAgeZeroRevalidates")]
    public void RFC8246_Immutable_Table(string cacheControl, int secondsLater, bool refresh, string? requestHeaders, string expected)
    {
        var settings = new RequestSettings(null, refresh, false, false);

        Rfc.Outcome($"Cache-Control: {cacheControl}|ETag: \"v\"", secondsLater, requestHeaders, settings: settings).Should().Be(expected);
    }
}
