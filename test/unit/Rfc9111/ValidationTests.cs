using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §4.3: sending validators (§4.3.1), answering preconditions (§4.3.2), 304 selection and update (§4.3.4), HEAD (§4.3.5).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ValidationTests
{
    private static readonly string LastModified = Rfc.Date(-1000);

    // §4.3.1: which conditional headers are sent, by preference.
    [TestCase("ETag: \"e\"|Last-Modified: @-1000", ValidatorPreference.Both, "\"e\"", true, TestName = "S4_3_1_Both_SendsBoth")]
    [TestCase("ETag: \"e\"|Last-Modified: @-1000", ValidatorPreference.ETag, "\"e\"", false, TestName = "S4_3_1_ETagPreferred_SendsIfNoneMatchOnly")]
    [TestCase("ETag: \"e\"|Last-Modified: @-1000", ValidatorPreference.LastModified, null, true, TestName = "S4_3_1_LastModifiedPreferred_SendsIfModifiedSinceOnly")]
    [TestCase("Last-Modified: @-1000", ValidatorPreference.ETag, null, true, TestName = "S4_3_1_ETagPreferredButMissing_FallsBack")]
    [TestCase("ETag: \"e\"", ValidatorPreference.LastModified, "\"e\"", false, TestName = "S4_3_1_LastModifiedPreferredButMissing_FallsBack")]
    [TestCase("ETag: W/\"e\"", ValidatorPreference.Both, "W/\"e\"", false, TestName = "S4_3_1_WeakETag_SentAsIs")]
    [TestCase("ETag: \"e\"|Last-Modified: not a date", ValidatorPreference.Both, "\"e\"", false, TestName = "S4_3_1_InvalidLastModified_NotSent")]
    public void S4_3_1_Validators_Table(string response, ValidatorPreference preference, string? ifNoneMatch, bool ifModifiedSince)
    {
        var (inm, ims) = CachePolicy.Validators(Rfc.Response(response), preference);

        inm.Should().Be(ifNoneMatch);
        ims.Should().Be(ifModifiedSince ? LastModified : null);
    }

    // §4.3.4: does a 304 with these fields select the stored response?
    [TestCase("ETag: \"a\"", "ETag: \"a\"", true, TestName = "S4_3_4_SameStrongETag_Selected")]
    [TestCase("ETag: \"b\"", "ETag: \"a\"", false, TestName = "S4_3_4_OtherStrongETag_NotSelected")]
    [TestCase("ETag: \"a\"", "ETag: W/\"a\"", false, TestName = "S4_3_4_StrongAgainstWeakStored_NotSelected")]
    [TestCase("ETag: W/\"a\"", "ETag: W/\"a\"", true, TestName = "S4_3_4_SameWeakETag_Selected")]
    [TestCase("ETag: W/\"a\"", "ETag: \"a\"", true, TestName = "S4_3_4_WeakCorrespondsToStrongStored_Selected")]
    [TestCase("ETag: W/\"b\"", "ETag: W/\"a\"", false, TestName = "S4_3_4_OtherWeakETag_NotSelected")]
    [TestCase("ETag: \"a\"", "ETag: \"a\"|Last-Modified: @-1000", true, TestName = "S4_3_4_StrongETagDecides_EvenWithLastModified")]
    [TestCase("Last-Modified: @-1000", "Last-Modified: @-1000", true, TestName = "S4_3_4_SameLastModified_Selected")]
    [TestCase("Last-Modified: @-999", "Last-Modified: @-1000", false, TestName = "S4_3_4_OtherLastModified_NotSelected")]
    [TestCase("Date: @0", "Last-Modified: @-1000", true, TestName = "S4_3_4_NoValidator_StoredWithoutETag_Selected")]
    [TestCase("Date: @0", "ETag: \"a\"", true, TestName = "S4_3_4_NoValidator_TheOneNominatedResponse_Selected")]
    [TestCase("Date: @0", "Date: @-10", true, TestName = "S4_3_4_NoValidatorEither_Selected")]
    public void S4_3_4_Selection_Table(string notModified, string stored, bool expected)
    {
        var (headers, content) = Rfc.Headers(notModified);

        CachePolicy.SelectsForUpdate(headers, content, Rfc.Response(stored)).Should().Be(expected);
    }

    [Test]
    public void S3_2_Freshen_UpdatesFieldsButNotContentLengthAndRestartsAge()
    {
        var stored = Rfc.Response("Cache-Control: max-age=1|ETag: \"a\"|Test-Header: A|Age: 500|Date: @-1000|Content-Type: text/plain|Content-Length: 4|Content-Encoding: gzip|X-Keep: k", delay: 3);
        var (headers, content) = Rfc.Headers("Cache-Control: max-age=3600|ETag: \"a\"|Test-Header: B|Content-Type: text/plain;charset=utf-8|Content-Length: 0|Content-Encoding: br|Connection: X-Hop|X-Hop: h");

        var updated = CachePolicy.Freshen(stored, headers, content, Rfc.T0.AddSeconds(100), Rfc.T0.AddSeconds(101));

        updated.Headers.GetValue("Test-Header").Should().Be("B");
        updated.Headers.GetValue("Cache-Control").Should().Be("max-age=3600");
        updated.Headers.GetValue("X-Keep").Should().Be("k");
        updated.Headers.Contains("Age").Should().BeFalse("the stored Age belonged to the old response");
        updated.Headers.Contains("X-Hop").Should().BeFalse("fields named by Connection are not stored");
        updated.Headers.GetValue("Date").Should().Be(Rfc.Date(101), "a 304 without Date is dated when received");
        updated.ContentHeaders.GetValue("Content-Type").Should().Be("text/plain;charset=utf-8");
        updated.ContentHeaders.GetValue("Content-Length").Should().Be("4");
        updated.ContentHeaders.GetValue("Content-Encoding").Should().Be("gzip");
        updated.CreatedAt.Should().Be(Rfc.T0.AddSeconds(101));
        updated.RequestTime.Should().Be(Rfc.T0.AddSeconds(100));
        updated.Body.ToArray().Should().Equal(stored.Body.ToArray());
    }

    [Test]
    public void S4_3_4_Freshen_GivesTheNewFreshness()
    {
        var options = Rfc.Options();
        var stored = Rfc.Store(Rfc.Response("Cache-Control: max-age=1|ETag: \"a\""), options)!;
        var (headers, content) = Rfc.Headers("Cache-Control: max-age=3600|ETag: \"a\"|Date: @100");
        var updated = CachePolicy.Freshen(stored, headers, content, Rfc.T0.AddSeconds(100), Rfc.T0.AddSeconds(100));
        var plan = CachePolicy.ForResponse(updated, Rfc.Actions(options), options);

        plan.ExpiresAt.Should().Be(Rfc.T0.AddSeconds(3700));
    }

    // §4.3.5: may a 200 to HEAD update the stored GET response?
    [TestCase("ETag: \"a\"", true, TestName = "S4_3_5_SameETag_Updates")]
    [TestCase("ETag: \"b\"", false, TestName = "S4_3_5_OtherETag_Stale")]
    [TestCase("ETag: W/\"a\"", false, TestName = "S4_3_5_WeakenedETag_Stale")]
    [TestCase("Last-Modified: @-1000", true, TestName = "S4_3_5_SameLastModified_Updates")]
    [TestCase("Last-Modified: @-5", false, TestName = "S4_3_5_OtherLastModified_Stale")]
    [TestCase("ETag: \"a\"|Last-Modified: @-5", false, TestName = "S4_3_5_AllValidatorsMustMatch")]
    [TestCase("ETag: \"a\"|Content-Length: 4", true, TestName = "S4_3_5_SameContentLength_Updates")]
    [TestCase("ETag: \"a\"|Content-Length: 5", false, TestName = "S4_3_5_OtherContentLength_Stale")]
    [TestCase("Cache-Control: max-age=60", false, TestName = "S4_3_5_NoValidator_Stale")]
    public void S4_3_5_HeadMatches_Table(string head, bool expected)
    {
        var (headers, content) = Rfc.Headers(head);

        CachePolicy.HeadMatches(headers, content, Rfc.Response("ETag: \"a\"|Last-Modified: @-1000", body: "body")).Should().Be(expected);
    }

    // §4.3.2: a caller's own If-None-Match / If-Modified-Since evaluated against a stored response.
    [TestCase("\"a\"", null, "ETag: \"a\"", "NotModified", TestName = "S4_3_2_IfNoneMatchSameTag_304")]
    [TestCase("W/\"a\"", null, "ETag: \"a\"", "NotModified", TestName = "S4_3_2_IfNoneMatchWeakComparison_304")]
    [TestCase("\"a\"", null, "ETag: W/\"a\"", "NotModified", TestName = "S4_3_2_IfNoneMatchWeakStored_304")]
    [TestCase("\"x\", \"a\", \"y\"", null, "ETag: \"a\"", "NotModified", TestName = "S4_3_2_IfNoneMatchList_304")]
    [TestCase("\"x,a\"", null, "ETag: \"a\"", "Modified", TestName = "S4_3_2_IfNoneMatchCommaInsideTag_NoSplit")]
    [TestCase("*", null, "ETag: \"a\"", "NotModified", TestName = "S4_3_2_IfNoneMatchStar_304")]
    [TestCase("\"b\"", null, "ETag: \"a\"", "Modified", TestName = "S4_3_2_IfNoneMatchOtherTag_200")]
    [TestCase("\"a\"", null, "Last-Modified: @-10", "Modified", TestName = "S4_3_2_IfNoneMatchNoStoredTag_200")]
    [TestCase("\"b\"", "@0", "ETag: \"a\"|Last-Modified: @-10", "Modified", TestName = "S4_3_2_IfNoneMatchTakesPrecedence")]
    [TestCase(null, "@-10", "Last-Modified: @-10", "NotModified", TestName = "S4_3_2_IfModifiedSinceSame_304")]
    [TestCase(null, "@-5", "Last-Modified: @-10", "NotModified", TestName = "S4_3_2_IfModifiedSinceLater_304")]
    [TestCase(null, "@-20", "Last-Modified: @-10", "Modified", TestName = "S4_3_2_IfModifiedSinceEarlier_200")]
    [TestCase(null, "@-5", "Date: @-10", "NotModified", TestName = "S4_3_2_IfModifiedSinceWithoutLastModified_UsesDate")]
    [TestCase(null, "@-20", "Date: @-10", "Modified", TestName = "S4_3_2_IfModifiedSinceBeforeDate_200")]
    [TestCase(null, "yesterday", "Last-Modified: @-10", "Modified", TestName = "S4_3_2_InvalidIfModifiedSince_Ignored")]
    public void S4_3_2_Preconditions_Table(string? ifNoneMatch, string? ifModifiedSince, string stored, string expected)
    {
        var ims = ifModifiedSince is { } v && v.StartsWith('@') ? Rfc.Date(int.Parse(v[1..], System.Globalization.CultureInfo.InvariantCulture)) : ifModifiedSince;

        CachePolicy.EvaluatePreconditions(ifNoneMatch, ims, Rfc.Response(stored)).ToString().Should().Be(expected);
    }

    [TestCase("GET", "If-None-Match", true)]
    [TestCase("HEAD", "If-Modified-Since", true)]
    [TestCase("POST", "If-None-Match", false)]
    [TestCase("GET", "If-Match", false)]
    [TestCase("GET", "If-Unmodified-Since", false)]
    [TestCase("GET", "If-Range", false)]
    [TestCase("GET", "If-None-Match,If-Range", false)]
    [TestCase("GET", "If-None-Match,If-Modified-Since", true)]
    public void S4_3_2_WhichPreconditionsTheCacheEvaluates(string method, string headers, bool expected)
    {
        var names = headers.Split(',');

        CachePolicy.CanEvaluatePreconditions(method, n => names.Contains(n, StringComparer.OrdinalIgnoreCase)).Should().Be(expected);
    }

    // RFC 9110 §8.8.3.2: strong and weak comparison.
    [TestCase("W/\"1\"", "W/\"1\"", false, true)]
    [TestCase("W/\"1\"", "W/\"2\"", false, false)]
    [TestCase("W/\"1\"", "\"1\"", false, true)]
    [TestCase("\"1\"", "\"1\"", true, true)]
    [TestCase("\"1\"", "\"2\"", false, false)]
    public void RFC9110_EntityTagComparison_Table(string a, string b, bool strong, bool weak)
    {
        var x = EntityTag.Parse(a)!.Value;
        var y = EntityTag.Parse(b)!.Value;

        x.StrongEquals(y).Should().Be(strong);
        x.WeakEquals(y).Should().Be(weak);
    }
}
