using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>
/// The precedence of expirations in CacheControl mode, as one table (the same table is in docs/rfc9111-compliance.md):
/// response headers → request headers → per-request expiration → URL pattern → session default → heuristic (§4.2.2).
/// "expected" is how long the stored response is fresh, in seconds after it was received; "0" = stored stale (validated
/// on every use); "Never"; or "NotStored".
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class PrecedenceTableTests
{
    //        response fields                                   request headers                   per-request  pattern  session   expected
    [TestCase("Cache-Control: max-age=10", null, "30", "40", "50", "10", TestName = "P01_ResponseMaxAge_WinsOverEverything_S4_2_1")]
    [TestCase("Expires: @100|Date: @0", null, "30", "40", "50", "100", TestName = "P02_ResponseExpires_WinsOverSettings_S4_2_1")]
    [TestCase("Cache-Control: max-age=10|Expires: @100", null, null, null, null, "10", TestName = "P03_MaxAge_WinsOverExpires_S5_3")]
    [TestCase("Cache-Control: max-age=10", "Cache-Control: max-age=20", "30", "40", "50", "10", TestName = "P04_ResponseHeaders_WinOverRequestHeaders")]
    [TestCase(null, "Cache-Control: max-age=20", "30", "40", "50", "20", TestName = "P05_RequestMaxAge_WinsOverSettings")]
    [TestCase(null, null, "30", "40", "50", "30", TestName = "P06_PerRequest_WinsOverPatternAndSession")]
    [TestCase(null, null, null, "40", "50", "40", TestName = "P07_Pattern_WinsOverSession")]
    [TestCase(null, null, null, null, "50", "50", TestName = "P08_SessionDefault_Applies")]
    [TestCase("Last-Modified: @-86400|Date: @0", null, null, null, null, "8640", TestName = "P09_NothingSet_HeuristicFromLastModified_S4_2_2")]
    [TestCase("Last-Modified: @-86400|Date: @0", null, null, null, "50", "50", TestName = "P10_SessionDefault_WinsOverHeuristic_S4_2_2")]
    [TestCase(null, null, null, null, null, "NotStored", TestName = "P11_NothingAtAll_NotStored")]
    [TestCase("ETag: \"v\"", null, null, null, null, "0", TestName = "P12_OnlyAValidator_StoredStale_S4_3")]
    [TestCase("Cache-Control: no-store", null, "30", "40", "50", "NotStored", TestName = "P13_ResponseNoStore_WinsOverSettings_S5_2_2_5")]
    [TestCase("Cache-Control: no-cache, max-age=100|ETag: \"v\"", null, "30", "40", "50", "0", TestName = "P14_ResponseNoCache_AlwaysRevalidated_S5_2_2_4")]
    [TestCase("Cache-Control: max-age=0", null, "30", "40", "50", "NotStored", TestName = "P15_ResponseMaxAgeZero_WinsOverSettings")]
    [TestCase("Expires: 0|ETag: \"v\"", null, null, null, "-1", "0", TestName = "P16_InvalidExpires_IsStaleNotNever_S5_3")]
    [TestCase(null, "Cache-Control: no-store", "30", "40", "50", "NotStored", TestName = "P17_RequestNoStore_WinsOverSettings_S5_2_1_5")]
    [TestCase("Cache-Control: max-age=10", null, "0", "40", "50", "NotStored", TestName = "P18_PerRequestDoNotCache_BypassesTheCache")]
    [TestCase("Cache-Control: max-age=10", null, null, "0", "50", "NotStored", TestName = "P19_PatternDoNotCache_BypassesTheCache")]
    [TestCase(null, null, "-1", "40", "50", "Never", TestName = "P20_PerRequestNever_WinsOverPattern")]
    [TestCase(null, null, null, null, "-1", "Never", TestName = "P21_SessionNeverSetExplicitly_Never")]
    [TestCase("ETag: \"v\"", null, "immediate", "40", "50", "0", TestName = "P22_PerRequestExpireImmediately_StoredStale")]
    public void Precedence_CacheControlOn(string? response, string? requestHeaders, string? perRequest, string? pattern, string? session, string expected)
    {
        var options = Rfc.Options(o =>
        {
            if (session is not null)
            {
                o.ExpireAfter = Expiration.Parse(session);
            }

            if (pattern is not null)
            {
                o.UrlsExpireAfter["example.com/resource"] = Expiration.Parse(pattern);
            }
        });
        var settings = new RequestSettings(perRequest is null ? null : Expiration.Parse(perRequest), false, false, false);
        var actions = Rfc.Actions(options, requestHeaders, settings);
        var candidate = CachePolicy.PrepareForStorage(Rfc.Response(response), cacheControl: true);

        Rfc.Lifetime(CachePolicy.ForResponse(candidate, actions, options)).Should().Be(expected);
    }
}
