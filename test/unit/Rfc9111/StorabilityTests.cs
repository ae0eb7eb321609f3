using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §3 (storing responses), §3.1 (stored fields), §3.5 (Authorization), §5.2.2 (response directives).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class StorabilityTests
{
    private static readonly HashSet<int> ManyCodes = [200, 203, 204, 206, 299, 302, 304, 307, 400, 404, 410, 500, 503, 599];

    // Evaluated 10 seconds after storage (fresh for max-age=60), with many statuses allowed so that RFC rules decide.
    [TestCase("Cache-Control: no-store", 200, "NotStored", TestName = "S5_2_2_5_NoStore_NotStored")]
    [TestCase("Cache-Control: No-StOrE", 200, "NotStored", TestName = "S5_2_2_5_NoStoreAnyCase_NotStored")]
    [TestCase("Cache-Control: max-age=10000, no-store|Expires: @10000|Date: @0", 200, "NotStored", TestName = "S5_2_2_5_NoStoreWithFreshness_NotStored")]
    [TestCase("Cache-Control: private, max-age=60", 200, "Fresh", TestName = "S5_2_2_7_Private_StoredByPrivateCache")]
    [TestCase("Cache-Control: private=\"X-A\", max-age=60", 200, "Fresh", TestName = "S5_2_2_7_QualifiedPrivate_StoredByPrivateCache")]
    [TestCase("Cache-Control: public|ETag: \"v\"", 200, "Revalidate", TestName = "S5_2_2_9_PublicWithoutFreshness_StoredStale")]
    [TestCase("Cache-Control: max-age=60, no-cache|ETag: \"v\"", 200, "Revalidate", TestName = "S5_2_2_4_NoCache_StoredButAlwaysRevalidated")]
    [TestCase("Cache-Control: max-age=60, No-CaChE|ETag: \"v\"", 200, "Revalidate", TestName = "S5_2_2_4_NoCacheAnyCase_Revalidated")]
    [TestCase("Cache-Control: no-cache=\"X-A\", max-age=60|ETag: \"v\"", 200, "Revalidate", TestName = "S5_2_2_4_QualifiedNoCache_TreatedAsUnqualified")]
    [TestCase("Cache-Control: max-age=60, no-cache", 200, "NotStored", TestName = "S5_2_2_4_NoCacheWithoutValidator_NotStored")]
    [TestCase("Cache-Control: max-age=60, must-revalidate", 200, "Fresh", TestName = "S5_2_2_2_MustRevalidateFresh_Served")]
    [TestCase("Cache-Control: max-age=60", 203, "Fresh", TestName = "S3_Status203WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 204, "Fresh", TestName = "S3_Status204WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 299, "Fresh", TestName = "S3_Status299WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 302, "Fresh", TestName = "S3_Status302WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 307, "Fresh", TestName = "S3_Status307WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 400, "Fresh", TestName = "S3_Status400WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 404, "Fresh", TestName = "S3_Status404WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 500, "Fresh", TestName = "S3_Status500WithMaxAge_Stored")]
    [TestCase("Cache-Control: max-age=60", 599, "Fresh", TestName = "S3_Status599WithMaxAge_Stored")]
    [TestCase("Expires: @60|Date: @0", 503, "Fresh", TestName = "S3_Status503WithExpires_Stored")]
    [TestCase("ETag: \"v\"", 302, "NotStored", TestName = "S3_Status302WithoutFreshness_NotStored")]
    [TestCase("ETag: \"v\"", 500, "NotStored", TestName = "S3_Status500WithoutFreshness_NotStored")]
    [TestCase("ETag: \"v\"", 200, "Revalidate", TestName = "S3_Status200WithoutFreshness_StoredForValidation")]
    [TestCase("ETag: \"v\"", 404, "Revalidate", TestName = "S3_Status404WithoutFreshness_StoredForValidation")]
    [TestCase("Cache-Control: max-age=60", 206, "NotStored", TestName = "S3_3_PartialContent_NotStored")]
    [TestCase("Cache-Control: max-age=60", 304, "NotStored", TestName = "S3_NotModified_NotStoredAsAResponse")]
    [TestCase("Cache-Control: max-age=60|Vary: *", 200, "NotStored", TestName = "S4_1_VaryStar_NotStored")]
    [TestCase("Cache-Control: max-age=60|Vary: Accept, *", 200, "NotStored", TestName = "S4_1_VaryListWithStar_NotStored")]
    [TestCase("Cache-Control: max-age=60|Vary: , *", 200, "NotStored", TestName = "S4_1_VaryEmptyThenStar_NotStored")]
    [TestCase("Cache-Control: must-understand, no-store, max-age=60", 200, "Fresh", TestName = "S5_2_2_3_MustUnderstandKnownStatus_IgnoresNoStore")]
    [TestCase("Cache-Control: must-understand, no-store, max-age=60", 299, "NotStored", TestName = "S5_2_2_3_MustUnderstandUnknownStatus_NotStored")]
    [TestCase("Cache-Control: must-understand, max-age=60", 404, "Fresh", TestName = "S5_2_2_3_MustUnderstand404_Stored")]
    public void S3_Storability_Table(string response, int status, string expected)
    {
        var options = Rfc.Options(o => o.AllowedCodes = new HashSet<int>(ManyCodes));

        Rfc.Outcome(response, 10, status: status, options: options).Should().Be(expected);
    }

    // AllowedCodes stays the gate in CacheControl mode: RFC 9111 says what may be stored, the user what is wanted.
    [TestCase(404, false, "NotStored", TestName = "S3_AllowedCodesGate_404NotAllowed_NotStored")]
    [TestCase(404, true, "Fresh", TestName = "S3_AllowedCodesGate_404Allowed_Stored")]
    [TestCase(500, false, "NotStored", TestName = "S3_AllowedCodesGate_500NotAllowed_NotStored")]
    [TestCase(200, false, "Fresh", TestName = "S3_AllowedCodesGate_200Default_Stored")]
    public void S3_AllowedCodes_IsTheGate(int status, bool allow, string expected)
    {
        var options = Rfc.Options(o =>
        {
            if (allow)
            {
                o.AllowedCodes.Add(status);
            }
        });

        Rfc.Outcome("Cache-Control: max-age=60", 10, status: status, options: options).Should().Be(expected);
    }

    [Test]
    public void S3_UserExpiration_IsAnOutOfBandPermission()
    {
        // A status that is not heuristically cacheable and has no freshness is stored only because the user set an expiration.
        var options = Rfc.Options(o => o.AllowedCodes.Add(500));
        var actions = Rfc.Actions(options, settings: new RequestSettings(Expiration.After(TimeSpan.FromSeconds(60)), false, false, false));

        Rfc.Lifetime(CachePolicy.ForResponse(Rfc.Response(null, 500), actions, options)).Should().Be("60");
        Rfc.Lifetime(CachePolicy.ForResponse(Rfc.Response(null, 500), Rfc.Actions(options), options)).Should().Be(Rfc.NotStored);
    }

    [TestCase("Cache-Control: max-age=60", "Fresh", TestName = "S3_5_Authorization_PrivateCacheStores")]
    [TestCase("Expires: @60|Date: @0", "Fresh", TestName = "S3_5_AuthorizationWithExpires_PrivateCacheStores")]
    public void S3_5_Authorization_IsStoredByAPrivateCache(string response, string expected)
    {
        // §3.5 binds shared caches; CachedHttp keys by credential, so each credential has its own private cache.
        var options = Rfc.Options();
        var stored = Rfc.Store(Rfc.Response(response, requestHeaders: "Authorization: REDACTED"), options);

        (stored is null ? Rfc.NotStored : CachePolicy.Evaluate(stored, Rfc.Actions(options), options, Rfc.T0.AddSeconds(10)).ToString()).Should().Be(expected);
    }

    [Test]
    public void S3_MethodNotAllowed_NotStored()
    {
        var options = Rfc.Options();

        CachePolicy.ForResponse(Rfc.Response("Cache-Control: max-age=60", method: "POST"), Rfc.Actions(options, method: "POST"), options).Store.Should().BeFalse();
    }

    [Test]
    public void S3_1_ConnectionSpecificAndProxyFields_AreNotStored()
    {
        var response = Rfc.Response(
            "Cache-Control: max-age=60|Connection: close, X-A|X-A: 1|X-B: 2|Keep-Alive: timeout=5|Transfer-Encoding: chunked|Upgrade: h2c|"
            + "Proxy-Authenticate: Basic|Proxy-Connection: keep-alive|TE: trailers|Set-Cookie: a=b|WWW-Authenticate: Basic|Date: @0");

        var stored = CachePolicy.PrepareForStorage(response, cacheControl: true);

        stored.Headers.Select(h => h.Key).Should().BeEquivalentTo("Cache-Control", "X-B", "Set-Cookie", "WWW-Authenticate", "Date");
    }

    [Test]
    public void S3_1_MissingDate_IsAddedWhenStored()
    {
        // RFC 9110 §6.6.1: a cache stores a Date (the time received) when the origin sent none.
        var stored = CachePolicy.PrepareForStorage(Rfc.Response("Cache-Control: max-age=60"), cacheControl: true);

        stored.Headers.GetValue("Date").Should().Be(Rfc.Date(0));
    }

    [Test]
    public void S3_1_OriginDate_IsKept()
    {
        var stored = CachePolicy.PrepareForStorage(Rfc.Response("Date: @-5"), cacheControl: true);

        stored.Headers.GetValue("Date").Should().Be(Rfc.Date(-5));
    }

    [TestCase("Cache-Control: max-age=60, stale-if-error=300", 360, TestName = "RFC5861_StaleIfError_ExtendsStorage")]
    [TestCase("Cache-Control: max-age=60, stale-while-revalidate=100", 160, TestName = "RFC5861_StaleWhileRevalidate_ExtendsStorage")]
    [TestCase("Cache-Control: max-age=60, must-revalidate, stale-if-error=300", 60, TestName = "S5_2_2_2_MustRevalidate_NoStaleRetention")]
    public void RFC5861_StaleWindows_KeepTheEntry(string response, int deleteAfterSeconds)
    {
        var options = Rfc.Options();

        var plan = CachePolicy.ForResponse(Rfc.Response(response), Rfc.Actions(options), options);

        plan.DeleteAfter.Should().Be(Rfc.T0.AddSeconds(deleteAfterSeconds));
    }

    [Test]
    public void S4_3_ValidatorKeepsStaleEntry_ForRevalidation()
    {
        var options = Rfc.Options(o => o.StaleRetention = TimeSpan.FromDays(2));

        var plan = CachePolicy.ForResponse(Rfc.Response("Cache-Control: max-age=60|ETag: \"v\""), Rfc.Actions(options), options);

        plan.DeleteAfter.Should().Be(Rfc.T0.AddSeconds(60).AddDays(2));
    }
}
