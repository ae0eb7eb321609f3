using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §5.2.1 (request directives) and §5.4 (Pragma).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RequestDirectiveTests
{
    // Stored: fresh for 100 s; evaluated N seconds later for a request with the given headers.
    [TestCase(null, null, 30, "Fresh", TestName = "S5_2_1_NoDirectives_Fresh")]
    [TestCase("Cache-Control: max-age=60", null, 30, "Fresh", TestName = "S5_2_1_1_MaxAgeAboveAge_Fresh")]
    [TestCase("Cache-Control: max-age=20", null, 30, "Unusable", TestName = "S5_2_1_1_MaxAgeBelowAge_NotUsed")]
    [TestCase("Cache-Control: max-age=20", "ETag: \"v\"", 30, "Revalidate", TestName = "S5_2_1_1_MaxAgeBelowAge_Revalidated")]
    [TestCase("Cache-Control: max-age=0", null, 1, "Unusable", TestName = "S5_2_1_1_MaxAgeZero_NotUsed")]
    [TestCase("Cache-Control: max-stale", null, 100000, "StaleAllowed", TestName = "S5_2_1_2_MaxStaleWithoutValue_AnyStaleness")]
    [TestCase("Cache-Control: max-stale=100", null, 150, "StaleAllowed", TestName = "S5_2_1_2_MaxStaleWithinLimit_Served")]
    [TestCase("Cache-Control: max-stale=100", null, 250, "Unusable", TestName = "S5_2_1_2_MaxStaleBeyondLimit_NotUsed")]
    [TestCase("Cache-Control: max-stale=100", null, 30, "Fresh", TestName = "S5_2_1_2_MaxStaleOnFresh_Fresh")]
    [TestCase("Cache-Control: max-stale=100, max-age=120", null, 110, "StaleAllowed", TestName = "S5_2_1_1_MaxAgeWithMaxStale_StaleWithinAge")]
    [TestCase("Cache-Control: max-stale=100, max-age=120", null, 150, "Unusable", TestName = "S5_2_1_1_MaxAgeWithMaxStale_TooOld")]
    [TestCase("Cache-Control: min-fresh=50", null, 30, "Fresh", TestName = "S5_2_1_3_MinFreshMet_Fresh")]
    [TestCase("Cache-Control: min-fresh=80", null, 30, "Unusable", TestName = "S5_2_1_3_MinFreshNotMet_NotUsed")]
    [TestCase("Cache-Control: min-fresh=10, max-stale", null, 150, "Unusable", TestName = "S5_2_1_3_MinFreshWithMaxStale_NoStale")]
    [TestCase("Cache-Control: no-cache", null, 10, "Unusable", TestName = "S5_2_1_4_NoCacheWithoutValidator_NotUsed")]
    [TestCase("Cache-Control: no-cache", "ETag: \"v\"", 10, "Revalidate", TestName = "S5_2_1_4_NoCacheWithETag_Revalidated")]
    [TestCase("Cache-Control: no-cache", "Last-Modified: @-100", 10, "Revalidate", TestName = "S5_2_1_4_NoCacheWithLastModified_Revalidated")]
    [TestCase("Pragma: no-cache", "ETag: \"v\"", 10, "Revalidate", TestName = "S5_4_PragmaNoCacheWithoutCacheControl_Revalidated")]
    [TestCase("Pragma: no-cache|Cache-Control: max-age=1000", "ETag: \"v\"", 10, "Fresh", TestName = "S5_4_PragmaWithCacheControl_Ignored")]
    [TestCase("Pragma: no-cache|Cache-Control: x-unknown", "ETag: \"v\"", 10, "Fresh", TestName = "S5_4_PragmaWithUnknownCacheControl_Ignored")]
    [TestCase("Pragma: unrecognised-extension", null, 10, "Fresh", TestName = "S5_4_PragmaExtension_Ignored")]
    [TestCase("Cache-Control: max-stale", "Cache-Control: max-age=100, must-revalidate", 150, "Unusable", TestName = "S5_2_2_2_MustRevalidate_BeatsMaxStale")]
    [TestCase("Cache-Control: max-stale", "Cache-Control: max-age=100, proxy-revalidate", 150, "StaleAllowed", TestName = "S5_2_2_8_ProxyRevalidate_PrivateCacheMayServeStale")]
    [TestCase("Cache-Control: max-stale", "Cache-Control: max-age=100, s-maxage=100", 150, "StaleAllowed", TestName = "S5_2_2_10_SMaxAge_PrivateCacheMayServeStale")]
    public void S5_2_1_RequestDirectives_Table(string? requestHeaders, string? extraResponseHeaders, int secondsLater, string expected)
    {
        var response = extraResponseHeaders?.StartsWith("Cache-Control", StringComparison.Ordinal) == true
            ? extraResponseHeaders
            : "Cache-Control: max-age=100" + (extraResponseHeaders is null ? string.Empty : "|" + extraResponseHeaders);

        Rfc.Outcome(response, secondsLater, requestHeaders).Should().Be(expected);
    }

    [TestCase("Cache-Control: no-store", true, true, false, TestName = "S5_2_1_5_NoStore_NeitherReadNorWritten")]
    [TestCase("Cache-Control: only-if-cached", false, false, true, TestName = "S5_2_1_7_OnlyIfCached_Flagged")]
    [TestCase("Cache-Control: max-age=5", false, false, false, TestName = "S5_2_1_1_MaxAge_NoFlags")]
    public void S5_2_1_RequestActions_Table(string requestHeaders, bool skipRead, bool skipWrite, bool onlyIfCached)
    {
        var actions = Rfc.Actions(Rfc.Options(), requestHeaders);

        actions.SkipRead.Should().Be(skipRead);
        actions.SkipWrite.Should().Be(skipWrite);
        actions.OnlyIfCached.Should().Be(onlyIfCached);
    }

    [Test]
    public void S5_2_1_CacheControlOff_RequestDirectivesIgnored()
    {
        var actions = Rfc.Actions(new CacheOptions(), "Cache-Control: no-store, no-cache, only-if-cached");

        actions.SkipRead.Should().BeFalse();
        actions.Revalidate.Should().BeFalse();
        actions.OnlyIfCached.Should().BeFalse();
    }

    [Test]
    public void S5_2_1_7_SetOnlyIfCached_IsTheSameAsTheDirective()
        => Rfc.Actions(Rfc.Options(), settings: new RequestSettings(null, false, false, true)).OnlyIfCached.Should().BeTrue();
}
