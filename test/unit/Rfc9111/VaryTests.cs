using CachedHttp.Internal;
using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §4.1: secondary keys — variants selected by the request header values their own Vary names.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class VaryTests
{
    [TestCase("Foo", "1,2", " 1, 2 ", true, TestName = "S4_1_Whitespace_Normalized")]
    [TestCase("Foo", "1, 2", "1,2", true, TestName = "S4_1_CombinedFields_Normalized")]
    [TestCase("Foo", "a  b", "a b", true, TestName = "S4_1_InnerWhitespace_Collapsed")]
    [TestCase("Accept", "text/html; q=0.9", "text/html;q=0.9", true, TestName = "S4_1_WhitespaceAroundSemicolon_Removed")]
    [TestCase("Accept-Language", "EN-us", "en-US", true, TestName = "S4_1_CaseInsensitiveHeader_LowerCased")]
    [TestCase("Accept", "Text/HTML", "text/html", true, TestName = "S4_1_AcceptCase_Normalized")]
    [TestCase("Accept-Encoding", "gzip, br", "br,gzip", true, TestName = "S4_1_AcceptEncodingOrder_Normalized")]
    [TestCase("Foo", "ABC", "abc", false, TestName = "S4_1_CaseSensitiveHeader_Kept")]
    [TestCase("Accept-Language", "en, de", "de, en", false, TestName = "S4_1_AcceptLanguageOrder_IsAPreference")]
    [TestCase("Foo", "1", "2", false, TestName = "S4_1_DifferentValues_Differ")]
    public void S4_1_Normalization_Table(string header, string a, string b, bool equal)
        => (CacheBackend.NormalizeVaryValue(header, a) == CacheBackend.NormalizeVaryValue(header, b)).Should().Be(equal);

    [Test]
    public async Task S4_1_SeveralVariants_EachSelectedByItsRequest()
    {
        using var backend = new CacheBackend(Rfc.Options());
        var key = backend.KeyForUrl(new Uri(Rfc.Url), "GET");
        await SaveAsync(backend, key, "Vary: Accept-Language", "Accept-Language: en", "english");
        await SaveAsync(backend, key, "Vary: Accept-Language", "Accept-Language: de", "deutsch");

        (await BodyAsync(backend, key, "Accept-Language: en")).Should().Be("english");
        (await BodyAsync(backend, key, "Accept-Language: DE")).Should().Be("deutsch");
        (await BodyAsync(backend, key, "Accept-Language: fr")).Should().BeNull();
        (await BodyAsync(backend, key, null)).Should().BeNull("a request without the header matches only a variant stored without it");
    }

    [Test]
    public async Task S4_1_AbsentHeader_IsAValueToo()
    {
        using var backend = new CacheBackend(Rfc.Options());
        var key = backend.KeyForUrl(new Uri(Rfc.Url), "GET");
        await SaveAsync(backend, key, "Vary: Foo, Bar", "Foo: 1", "foo-only");

        (await BodyAsync(backend, key, "Foo: 1")).Should().Be("foo-only");
        (await BodyAsync(backend, key, "Foo: 1|Bar: x")).Should().BeNull();
    }

    [Test]
    public async Task S4_1_VariantStoredUnderAnotherVaryList_IsStillSelectedByItsOwn()
    {
        using var backend = new CacheBackend(Rfc.Options());
        var key = backend.KeyForUrl(new Uri(Rfc.Url), "GET");
        await SaveAsync(backend, key, "Vary: Accept-Language", "Accept-Language: en|X-Flavor: a", "by-language");
        await SaveAsync(backend, key, "Vary: X-Flavor", "Accept-Language: de|X-Flavor: b", "by-flavor");

        (await BodyAsync(backend, key, "Accept-Language: en|X-Flavor: z")).Should().Be("by-language", "its own Vary names only Accept-Language");
        (await BodyAsync(backend, key, "Accept-Language: xx|X-Flavor: b")).Should().Be("by-flavor", "its own Vary names only X-Flavor");
        (await BodyAsync(backend, key, "Accept-Language: xx|X-Flavor: z")).Should().BeNull();
    }

    [Test]
    public async Task S4_1_SeveralMatchingVariants_MostRecentByDateWins()
    {
        using var backend = new CacheBackend(Rfc.Options());
        var key = backend.KeyForUrl(new Uri(Rfc.Url), "GET");
        await SaveAsync(backend, key, "Vary: Accept-Language|Date: @10", "Accept-Language: en|X-Flavor: a", "newer");
        await SaveAsync(backend, key, "Vary: X-Flavor|Date: @0", "Accept-Language: en|X-Flavor: a", "older");

        (await BodyAsync(backend, key, "Accept-Language: en|X-Flavor: a")).Should().Be("newer");
    }

    [Test]
    public async Task S4_1_VariantWhoseOwnValuesDoNotMatch_IsNotServed()
    {
        using var backend = new CacheBackend(Rfc.Options());
        var key = backend.KeyForUrl(new Uri(Rfc.Url), "GET");
        await SaveAsync(backend, key, "Vary: Foo", "Foo: 1", "one");

        (await BodyAsync(backend, key, "Foo: 2")).Should().BeNull();
        (await BodyAsync(backend, key, "Foo:  1 ")).Should().Be("one");
    }

    [Test]
    public void S4_1_VaryStar_NeverServed()
    {
        var options = Rfc.Options();
        var stored = Rfc.Response("Cache-Control: max-age=60|Vary: *") with { ExpiresAt = Rfc.T0.AddSeconds(60) };

        CachePolicy.Evaluate(stored, Rfc.Actions(options), options, Rfc.T0.AddSeconds(1)).Should().Be(StoredUse.Unusable);
        CachePolicy.MayServeStaleOnError(stored with { ExpiresAt = Rfc.T0 }, options, Rfc.T0.AddSeconds(1), CacheControlDirectives.Parse("stale-if-error=100")).Should().BeFalse();
    }

    private static async Task SaveAsync(CacheBackend backend, string key, string responseHeaders, string requestHeaders, string body)
    {
        using var request = Rfc.Request(requestHeaders);
        var response = Rfc.Response("Cache-Control: max-age=600|" + responseHeaders, body: body);
        response = response with { VaryValues = CacheBackend.VaryValuesOf(request, CacheBackend.VaryNames(response)), ExpiresAt = Rfc.T0.AddSeconds(600) };
        await backend.SaveAsync(key, response, null, CancellationToken.None);
    }

    private static async Task<string?> BodyAsync(CacheBackend backend, string key, string? requestHeaders)
    {
        using var request = Rfc.Request(requestHeaders);
        var (response, _) = await backend.LookupAsync(key, request, CancellationToken.None);
        return response is null ? null : System.Text.Encoding.UTF8.GetString(response.Body.Span);
    }
}
