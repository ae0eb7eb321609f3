using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §4.2.4 (serving stale) and RFC 5861 (stale-if-error §4, stale-while-revalidate §3).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class StaleTests
{
    // Stored at T0 with the given Cache-Control; an error happens N seconds later.
    [TestCase("max-age=60", null, null, 30, true, TestName = "RFC5861_4_FreshResponse_ServedOnError")]
    [TestCase("max-age=60", null, null, 120, false, TestName = "S4_2_4_NoPermission_NotServedStale")]
    [TestCase("max-age=60, stale-if-error=100", null, null, 120, true, TestName = "RFC5861_4_ResponseDirective_WithinWindow")]
    [TestCase("max-age=60, stale-if-error=100", null, null, 170, false, TestName = "RFC5861_4_ResponseDirective_BeyondWindow")]
    [TestCase("max-age=60", 100, null, 120, true, TestName = "RFC5861_4_Option_WithinWindow")]
    [TestCase("max-age=60", 100, null, 170, false, TestName = "RFC5861_4_Option_BeyondWindow")]
    [TestCase("max-age=60, stale-if-error=10", 100, null, 120, false, TestName = "RFC5861_4_ResponseDirective_OverridesOption")]
    [TestCase("max-age=60", null, "stale-if-error=100", 120, true, TestName = "RFC5861_4_RequestDirective_WithinWindow")]
    [TestCase("max-age=60, stale-if-error=10", null, "stale-if-error=100", 120, true, TestName = "RFC5861_4_RequestDirective_ScopesThisRequest")]
    [TestCase("max-age=60, must-revalidate, stale-if-error=100", null, null, 120, false, TestName = "S5_2_2_2_MustRevalidate_ForbidsStaleIfError")]
    [TestCase("max-age=60, must-revalidate", 100, null, 120, false, TestName = "S5_2_2_2_MustRevalidate_ForbidsOptionStaleIfError")]
    [TestCase("max-age=60, no-cache, stale-if-error=100", null, null, 1, false, TestName = "S5_2_2_4_NoCache_ForbidsStaleIfError")]
    [TestCase("max-age=60, proxy-revalidate", 100, null, 120, true, TestName = "S5_2_2_8_ProxyRevalidate_BindsSharedCachesOnly")]
    [TestCase("max-age=60, s-maxage=60", 100, null, 120, true, TestName = "S5_2_2_10_SMaxAge_BindsSharedCachesOnly")]
    public void RFC5861_StaleIfError_Table(string cacheControl, int? optionSeconds, string? requestCacheControl, int secondsLater, bool expected)
    {
        var options = Rfc.Options(o => o.StaleIfError = optionSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
        var stored = Rfc.Store(Rfc.Response($"Cache-Control: {cacheControl}|ETag: \"v\""), options)!;
        var request = CacheControlDirectives.Parse(requestCacheControl);

        CachePolicy.MayServeStaleOnError(stored, options, Rfc.T0.AddSeconds(secondsLater), request).Should().Be(expected);
    }

    [TestCase(500, true)]
    [TestCase(502, true)]
    [TestCase(503, true)]
    [TestCase(504, true)]
    [TestCase(501, false)]
    [TestCase(505, false)]
    [TestCase(599, false)]
    [TestCase(404, false)]
    public void RFC5861_4_ErrorStatuses_AreThoseOfTheRfc(int status, bool expected)
        => CachePolicy.IsStaleIfErrorStatus(status, Rfc.Options()).Should().Be(expected);

    [Test]
    public void RFC5861_4_CacheControlOff_Any5xxIsAnError()
        => CachePolicy.IsStaleIfErrorStatus(501, new CacheOptions()).Should().BeTrue();

    // stale-while-revalidate: evaluated N seconds after storage (stale after 60 s).
    [TestCase("max-age=60, stale-while-revalidate=30", null, null, 30, "Fresh", TestName = "RFC5861_3_Fresh_ServedFresh")]
    [TestCase("max-age=60, stale-while-revalidate=30", null, null, 80, "StaleWhileRevalidate", TestName = "RFC5861_3_WithinWindow_ServedStale")]
    [TestCase("max-age=60, stale-while-revalidate=30", null, null, 100, "Revalidate", TestName = "RFC5861_3_BeyondWindow_Revalidated")]
    [TestCase("max-age=60", 30, null, 80, "StaleWhileRevalidate", TestName = "RFC5861_3_Option_WithinWindow")]
    [TestCase("max-age=60, stale-while-revalidate=5", 30, null, 80, "Revalidate", TestName = "RFC5861_3_ResponseDirective_OverridesOption")]
    [TestCase("max-age=60, stale-while-revalidate=30, must-revalidate", null, null, 80, "Revalidate", TestName = "S5_2_2_2_MustRevalidate_ForbidsStaleWhileRevalidate")]
    [TestCase("max-age=60, stale-while-revalidate=30, no-cache", null, null, 80, "Revalidate", TestName = "S5_2_2_4_NoCache_ForbidsStaleWhileRevalidate")]
    [TestCase("max-age=60, stale-while-revalidate=30", null, "Cache-Control: max-age=10", 80, "Revalidate", TestName = "S5_2_1_1_RequestMaxAge_ForbidsStaleWhileRevalidate")]
    [TestCase("max-age=60, stale-while-revalidate=30", null, "Cache-Control: min-fresh=1", 80, "Revalidate", TestName = "S5_2_1_3_RequestMinFresh_ForbidsStaleWhileRevalidate")]
    [TestCase("max-age=60, stale-while-revalidate=30", null, "Cache-Control: no-cache", 80, "Revalidate", TestName = "S5_2_1_4_RequestNoCache_ForbidsStaleWhileRevalidate")]
    public void RFC5861_StaleWhileRevalidate_Table(string cacheControl, int? optionSeconds, string? requestHeaders, int secondsLater, string expected)
    {
        var options = Rfc.Options(o => o.StaleWhileRevalidate = optionSeconds is { } s ? TimeSpan.FromSeconds(s) : null);

        Rfc.Outcome($"Cache-Control: {cacheControl}|ETag: \"v\"", secondsLater, requestHeaders, options: options).Should().Be(expected);
    }
}
