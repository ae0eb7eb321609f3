using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

[Parallelizable(ParallelScope.All)]
public class CacheKeysTests
{
    private const string GoldenKey = "e93c762132a09fb2398beafee0ed2e9f4240ad941e905581631b9ac9e70ab40e";

    private static string Key(string url, HttpMethod? method = null, HttpContent? content = null, CacheOptions? options = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, url) { Content = content };
        configure?.Invoke(request);
        return CacheKeys.CreateKey(request, options);
    }

    private static HttpContent JsonContent(string json) => new StringContent(json, Encoding.UTF8, "application/json");

    [Test]
    public void CreateKey_GoldenVector_MatchesTheOriginalLibrary()
    {
        Key("https://example.com?param=1&foo=bar").Should().Be(GoldenKey);
    }

    [Test]
    public void CreateKey_GoldenVector_IsSha256OfMethodAndNormalizedUrl()
    {
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("GET" + "https://example.com/?foo=bar&param=1")));

        expected.Should().Be(GoldenKey);
        Key("https://example.com/?foo=bar&param=1").Should().Be(GoldenKey);
    }

    [Test]
    public void CreateKey_ThroughBackend_GivesTheGoldenVector()
    {
        using var backend = new CacheBackend();
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com?param=1&foo=bar");

        backend.CreateKey(request).Should().Be(GoldenKey);
    }

    [Test]
    public void CreateKey_LowerCaseMethod_IsUpperCased()
    {
        Key("https://example.com?param=1&foo=bar", new HttpMethod("get")).Should().Be(GoldenKey);
    }

    [TestCase("HTTPS://EXAMPLE.COM/?param=1&foo=bar")]
    [TestCase("https://Example.Com:443?foo=bar&param=1")]
    [TestCase("https://example.com/?foo=bar&param=1#fragment")]
    [TestCase("https://user:secret@example.com/?foo=bar&param=1")]
    public void CreateKey_EquivalentUrl_GivesTheGoldenVector(string url)
    {
        Key(url).Should().Be(GoldenKey);
    }

    [TestCase("https://EXAMPLE.com", "https://example.com/")]
    [TestCase("http://example.com:80/a", "http://example.com/a")]
    [TestCase("https://example.com:8443/a", "https://example.com:8443/a")]
    [TestCase("https://example.com/a?b=2&a=1&b=1", "https://example.com/a?a=1&b=1&b=2")]
    [TestCase("https://example.com/a?x=1&x=1", "https://example.com/a?x=1&x=1")]
    [TestCase("https://example.com/a#top", "https://example.com/a")]
    [TestCase("https://example.com/Path/Case", "https://example.com/Path/Case")]
    public void NormalizeUrl_Url_IsNormalized(string url, string expected)
    {
        CacheKeys.NormalizeUrl(new Uri(url)).Should().Be(expected);
    }

    [Test]
    public void NormalizeUrl_IgnoredParameters_AreRemoved()
    {
        CacheKeys.NormalizeUrl(new Uri("https://example.com/a?api_key=1&q=2&api_key=3"), ["api_key"])
            .Should().Be("https://example.com/a?q=2");
    }

    [Test]
    public void NormalizeUrl_RelativeUrl_Throws()
    {
        var act = () => CacheKeys.NormalizeUrl(new Uri("/a", UriKind.Relative));

        act.Should().Throw<ArgumentException>();
    }

    [Test]
    public void CreateKey_DuplicateParametersInAnyOrder_GiveSameKey()
    {
        Key("https://example.com/?a=2&a=1").Should().Be(Key("https://example.com/?a=1&a=2"));
    }

    [Test]
    public void CreateKey_DuplicateParameterKept_GivesDifferentKey()
    {
        Key("https://example.com/?a=1&a=1").Should().NotBe(Key("https://example.com/?a=1"));
    }

    [Test]
    public void CreateKey_DifferentPathCase_GivesDifferentKeys()
    {
        Key("https://example.com/A").Should().NotBe(Key("https://example.com/a"));
    }

    [Test]
    public void CreateKey_DifferentMethods_GiveDifferentKeys()
    {
        Key("https://example.com/", HttpMethod.Get).Should().NotBe(Key("https://example.com/", HttpMethod.Head));
    }

    [Test]
    public void CreateKey_IgnoredQueryParameter_DoesNotChangeKey()
    {
        var options = new CacheOptions { IgnoredParameters = new HashSet<string> { "api_key" } };

        Key("https://example.com?param=1&api_key=secret&foo=bar", options: options).Should().Be(GoldenKey);
        Key("https://example.com?param=1&api_key=other&foo=bar", options: options).Should().Be(GoldenKey);
    }

    [Test]
    public void CreateKey_JsonBodiesWithDifferentKeyOrder_GiveSameKey()
    {
        var a = Key("https://example.com/", HttpMethod.Post, JsonContent("""{"b":1,"a":{"y":[1,{"d":2,"c":3}],"x":null}}"""));
        var b = Key("https://example.com/", HttpMethod.Post, JsonContent("""{ "a": {"x": null, "y": [1, {"c": 3, "d": 2}]}, "b": 1 }"""));

        a.Should().Be(b);
    }

    [Test]
    public void CreateKey_JsonBodiesWithDifferentValues_GiveDifferentKeys()
    {
        var a = Key("https://example.com/", HttpMethod.Post, JsonContent("""{"a":1}"""));
        var b = Key("https://example.com/", HttpMethod.Post, JsonContent("""{"a":2}"""));

        a.Should().NotBe(b);
    }

    [Test]
    public void CreateKey_JsonArrayOrder_Matters()
    {
        var a = Key("https://example.com/", HttpMethod.Post, JsonContent("[1,2]"));
        var b = Key("https://example.com/", HttpMethod.Post, JsonContent("[2,1]"));

        a.Should().NotBe(b);
    }

    [Test]
    public void CreateKey_IgnoredJsonProperty_DoesNotChangeKey()
    {
        var options = new CacheOptions { IgnoredParameters = new HashSet<string> { "api_key" } };

        var a = Key("https://example.com/", HttpMethod.Post, JsonContent("""{"api_key":"one","q":1}"""), options);
        var b = Key("https://example.com/", HttpMethod.Post, JsonContent("""{"q":1,"api_key":"two"}"""), options);
        var withoutKey = Key("https://example.com/", HttpMethod.Post, JsonContent("""{"q":1}"""), options);

        a.Should().Be(b).And.Be(withoutKey);
    }

    [Test]
    public void CreateKey_InvalidJson_IsKeyedByBytes()
    {
        var a = Key("https://example.com/", HttpMethod.Post, JsonContent("{not json"));
        var b = Key("https://example.com/", HttpMethod.Post, JsonContent("{not json!"));

        a.Should().NotBe(b);
    }

    [Test]
    public void CreateKey_FormBodiesWithSameContent_GiveSameKey()
    {
        var a = Key("https://example.com/", HttpMethod.Post, new FormUrlEncodedContent([new("b", "2"), new("a", "1")]));
        var b = Key("https://example.com/", HttpMethod.Post, new FormUrlEncodedContent([new("a", "1"), new("b", "2")]));

        a.Should().Be(b);
    }

    [Test]
    public void CreateKey_FormBodiesWithDifferentContent_GiveDifferentKeys()
    {
        var a = Key("https://example.com/", HttpMethod.Post, new FormUrlEncodedContent([new("a", "1")]));
        var b = Key("https://example.com/", HttpMethod.Post, new FormUrlEncodedContent([new("a", "2")]));

        a.Should().NotBe(b);
    }

    [Test]
    public void CreateKey_IgnoredFormField_DoesNotChangeKey()
    {
        var options = new CacheOptions { IgnoredParameters = new HashSet<string> { "api_key" } };

        var a = Key("https://example.com/", HttpMethod.Post, new FormUrlEncodedContent([new("api_key", "one"), new("q", "1")]), options);
        var b = Key("https://example.com/", HttpMethod.Post, new FormUrlEncodedContent([new("q", "1"), new("api_key", "two")]), options);

        a.Should().Be(b);
    }

    [Test]
    public void CreateKey_DifferentRawBodies_GiveDifferentKeys()
    {
        var a = Key("https://example.com/", HttpMethod.Post, new ByteArrayContent([1, 2, 3]));
        var b = Key("https://example.com/", HttpMethod.Post, new ByteArrayContent([1, 2, 4]));
        var none = Key("https://example.com/", HttpMethod.Post);

        a.Should().NotBe(b);
        a.Should().NotBe(none);
    }

    [Test]
    public void CreateKey_StreamBody_IsReadAndLeftReadable()
    {
        using var content = new StreamContent(new MemoryStream([9, 8, 7]));
        var first = Key("https://example.com/", HttpMethod.Post, content);

        Key("https://example.com/", HttpMethod.Post, new ByteArrayContent([9, 8, 7])).Should().Be(first);
    }

    [Test]
    public void CreateKey_HeadersWithoutIncludeHeaders_DoNotChangeKey()
    {
        Key("https://example.com?param=1&foo=bar", configure: r => r.Headers.Add("X-Custom", "1")).Should().Be(GoldenKey);
    }

    [Test]
    public void CreateKey_IncludeHeaders_DifferentHeaderValuesGiveDifferentKeys()
    {
        var options = new CacheOptions { IncludeHeaders = true };

        var a = Key("https://example.com/", options: options, configure: r => r.Headers.Add("X-Custom", "1"));
        var b = Key("https://example.com/", options: options, configure: r => r.Headers.Add("X-Custom", "2"));
        var same = Key("https://example.com/", options: options, configure: r => r.Headers.Add("x-custom", "1"));

        a.Should().NotBe(b);
        a.Should().Be(same);
    }

    [Test]
    public void CreateKey_IncludeHeadersAndIgnoredHeader_IgnoredHeaderDoesNotChangeKey()
    {
        var options = new CacheOptions { IncludeHeaders = true, IgnoredParameters = new HashSet<string> { "X-Api-Key" } };

        var a = Key("https://example.com/", options: options, configure: r => r.Headers.Add("X-Api-Key", "1"));
        var b = Key("https://example.com/", options: options, configure: r => r.Headers.Add("x-api-key", "2"));
        var none = Key("https://example.com/", options: options);

        a.Should().Be(b).And.Be(none);
    }

    [Test]
    public void CreateKey_IncludeHeadersAndConditionalHeader_ConditionalHeaderDoesNotChangeKey()
    {
        var options = new CacheOptions { IncludeHeaders = true };

        var a = Key("https://example.com/", options: options, configure: r => r.Headers.TryAddWithoutValidation("If-None-Match", "\"v1\""));

        a.Should().Be(Key("https://example.com/", options: options));
    }

    [Test]
    public void CreateKey_MatchHeaders_OnlyListedHeadersChangeKey()
    {
        var options = new CacheOptions { MatchHeaders = ["X-Version"] };

        var v1 = Key("https://example.com/", options: options, configure: r => r.Headers.Add("X-Version", "1"));
        var v2 = Key("https://example.com/", options: options, configure: r => r.Headers.Add("x-version", "2"));
        var v1Other = Key("https://example.com/", options: options, configure: r =>
        {
            r.Headers.Add("X-Version", "1");
            r.Headers.Add("X-Other", "anything");
        });

        v1.Should().NotBe(v2);
        v1.Should().Be(v1Other);
    }

    [Test]
    public void CreateKey_DifferentAuthorization_GivesDifferentKeysByDefault()
    {
        var alice = Key("https://example.com/", configure: r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "alice"));
        var bob = Key("https://example.com/", configure: r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bob"));
        var anonymous = Key("https://example.com/");

        alice.Should().NotBe(bob);
        alice.Should().NotBe(anonymous);
    }

    [TestCase("Cookie")]
    [TestCase("Proxy-Authorization")]
    public void CreateKey_DifferentCredentialHeader_GivesDifferentKeysByDefault(string header)
    {
        var a = Key("https://example.com/", configure: r => r.Headers.TryAddWithoutValidation(header, "one"));
        var b = Key("https://example.com/", configure: r => r.Headers.TryAddWithoutValidation(header, "two"));

        a.Should().NotBe(b);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void CreateKey_ShareAcrossCredentials_AuthorizationDoesNotChangeKey(bool includeHeaders)
    {
        var options = new CacheOptions { ShareAcrossCredentials = true, IncludeHeaders = includeHeaders };

        var alice = Key("https://example.com/", options: options, configure: r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "alice"));
        var bob = Key("https://example.com/", options: options, configure: r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bob"));

        alice.Should().Be(bob).And.Be(Key("https://example.com/", options: options));
    }

    [Test]
    public void CreateKey_RelativeUrl_Throws()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/relative");

        var act = () => CacheKeys.CreateKey(request);

        act.Should().Throw<ArgumentException>();
    }

    [Test]
    public async Task Send_IncludeHeadersAndDifferentDefaultRequestHeaders_StoresTwoEntries()
    {
        using var cache = new TestCache(o => o.IncludeHeaders = true);
        using var clientA = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false);
        using var clientB = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false);
        clientA.DefaultRequestHeaders.Add("X-Tenant", "a");
        clientB.DefaultRequestHeaders.Add("X-Tenant", "b");

        (await clientA.GetStringAsync("https://example.com/data")).Should().Be("body of https://example.com/data");
        await clientB.GetStringAsync("https://example.com/data");
        await clientA.GetStringAsync("https://example.com/data");
        await clientB.GetStringAsync("https://example.com/data");

        cache.Stub.CallCount("https://example.com/data").Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(2);
        cache.Stub.Requests.Select(r => r.Header("X-Tenant")).Should().BeEquivalentTo(["a", "b"]);
    }

    [Test]
    public async Task Send_WithoutIncludeHeadersAndDifferentDefaultRequestHeaders_SharesOneEntry()
    {
        using var cache = new TestCache();
        using var clientA = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false);
        using var clientB = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false);
        clientA.DefaultRequestHeaders.Add("X-Tenant", "a");
        clientB.DefaultRequestHeaders.Add("X-Tenant", "b");

        await clientA.GetStringAsync("https://example.com/data");
        await clientB.GetStringAsync("https://example.com/data");

        cache.Stub.CallCount("https://example.com/data").Should().Be(1);
    }

    [Test]
    public async Task Send_MatchHeaderAsDefaultRequestHeader_KeysByIt()
    {
        using var cache = new TestCache(o => o.MatchHeaders = ["Accept-Language"]);
        using var english = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false);
        using var french = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false);
        english.DefaultRequestHeaders.Add("Accept-Language", "en");
        french.DefaultRequestHeaders.Add("Accept-Language", "fr");

        await english.GetStringAsync("https://example.com/page");
        await french.GetStringAsync("https://example.com/page");
        await english.GetStringAsync("https://example.com/page");

        cache.Stub.CallCount("https://example.com/page").Should().Be(2);
    }

    [Test]
    public async Task Send_DifferentAuthorization_IsNeverServedToTheOtherCredential()
    {
        using var cache = new TestCache();
        cache.Stub.Default = r => StubResponse.Ok("secret of " + r.Header("Authorization"));

        var alice = await cache.GetAsync("https://example.com/me", r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "alice"));
        var bob = await cache.GetAsync("https://example.com/me", r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bob"));
        var aliceAgain = await cache.GetAsync("https://example.com/me", r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "alice"));

        alice.Body.Should().Be("secret of Bearer alice");
        bob.Body.Should().Be("secret of Bearer bob");
        aliceAgain.Body.Should().Be("secret of Bearer alice");
        aliceAgain.Response.IsFromCache().Should().BeTrue();
        cache.Stub.CallCount("https://example.com/me").Should().Be(2);
    }

    [Test]
    public async Task Send_RelativeUrlsWithDifferentBaseAddresses_StoreTwoAbsoluteEntries()
    {
        using var cache = new TestCache();
        using var one = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false) { BaseAddress = new Uri("https://one.example.com/api/") };
        using var two = new HttpClient(new CachingHandler(cache.Backend, cache.Stub), disposeHandler: false) { BaseAddress = new Uri("https://two.example.com/api/") };

        (await one.GetStringAsync("items")).Should().Be("body of https://one.example.com/api/items");
        (await two.GetStringAsync("items")).Should().Be("body of https://two.example.com/api/items");
        (await one.GetStringAsync("items")).Should().Be("body of https://one.example.com/api/items");

        cache.Stub.CallCount("https://one.example.com/api/items").Should().Be(1);
        cache.Stub.CallCount("https://two.example.com/api/items").Should().Be(1);
        (await cache.Backend.HasUrlAsync("https://one.example.com/api/items")).Should().BeTrue();
        (await cache.Backend.HasUrlAsync("https://two.example.com/api/items")).Should().BeTrue();
    }

    [Test]
    public async Task Send_IgnoredQueryParameter_SharesOneEntryButIsStillSent()
    {
        using var cache = new TestCache(o => o.IgnoredParameters.Add("api_key"));

        await cache.GetAsync("https://example.com/data?q=1&api_key=first");
        var (second, _) = await cache.GetAsync("https://example.com/data?api_key=second&q=1");

        second.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
        cache.Stub.Requests.Single().Uri.Query.Should().Contain("api_key=first", "the parameter is ignored for keys, not removed from requests");
    }

    [Test]
    public async Task Send_IncludeHeadersAndIgnoredHeader_SharesOneEntry()
    {
        using var cache = new TestCache(o =>
        {
            o.IncludeHeaders = true;
            o.IgnoredParameters.Add("X-Request-Id");
        });

        await cache.GetAsync("https://example.com/data", r => r.Headers.Add("X-Request-Id", "1"));
        var (second, _) = await cache.GetAsync("https://example.com/data", r => r.Headers.Add("X-Request-Id", "2"));

        second.IsFromCache().Should().BeTrue();
    }

    [Test]
    public async Task Send_PostWithJsonBodiesInDifferentKeyOrder_SharesOneEntry()
    {
        using var cache = new TestCache(o => o.AllowedMethods.Add("POST"));

        (await cache.Client.PostAsync("https://example.com/query", new StringContent("""{"a":1,"b":[1,2]}""", Encoding.UTF8, "application/json"))).Dispose();
        using var second = await cache.Client.PostAsync("https://example.com/query", new StringContent("""{"b":[1,2],"a":1}""", Encoding.UTF8, "application/json"));

        second.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Send_PostWithFormBodies_KeyedByContent()
    {
        using var cache = new TestCache(o => o.AllowedMethods.Add("POST"));
        cache.Stub.Default = r => StubResponse.Ok("echo " + Encoding.UTF8.GetString(r.Body));

        async Task<string> Post(string name, string value)
        {
            using var response = await cache.Client.PostAsync("https://example.com/search", new FormUrlEncodedContent([new(name, value)]));
            return await response.Content.ReadAsStringAsync();
        }

        (await Post("q", "cats")).Should().Be("echo q=cats");
        (await Post("q", "dogs")).Should().Be("echo q=dogs");
        (await Post("q", "cats")).Should().Be("echo q=cats");

        cache.Stub.CallCount("https://example.com/search").Should().Be(2);
    }
}
