using System.Net;
using System.Text;
using CachedHttp.Internal;

namespace CachedHttp.Tests.Unit;

/// <summary>The shortcuts of the hit path give exactly what the long way gives.</summary>
[Parallelizable(ParallelScope.All)]
public class HitPathTests
{
    private static string SlowKey(string url, CacheOptions options)
    {
        // The reference: the key built from scratch for a fresh request, without the backend's memo.
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        return CacheKeys.CreateKey(request, options);
    }

    [TestCase("https://example.com/a?b=2&a=1")]
    [TestCase("https://example.com/a?a=1&b=2")]
    [TestCase("https://example.com/a?a=2&a=1")]
    [TestCase("https://example.com/a?a&a=")]
    [TestCase("https://example.com/a?a=&a")]
    [TestCase("https://example.com/a?a=1&&b=2")]
    [TestCase("https://example.com/a?a%20b=1&c=2")]
    [TestCase("https://example.com/a?a+b=1&c=2")]
    [TestCase("https://example.com/a?token=abc&z=1")]
    [TestCase("https://example.com/a?z=1&api_key=abc")]
    [TestCase("https://example.com/a?")]
    [TestCase("https://example.com/a?single")]
    [TestCase("https://example.com/a?B=1&a=1")]
    public void NormalizePairs_AnyQuery_MatchesSortingThePairs(string url)
    {
        var query = new Uri(url).Query.TrimStart('?');
        var options = new CacheOptions { IgnoredParameters = new HashSet<string> { "ignored" } };
        var hasher = new Secrets.Hasher(options);
        var pairs = query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.Split('=')[0] != "ignored")
            .Select(p =>
            {
                var equals = p.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? p : p[..equals];
                var value = equals < 0 ? string.Empty : p[(equals + 1)..];
                return equals > 0 && hasher.IsSecret(Uri.UnescapeDataString(name.Replace('+', ' ')))
                    ? (Name: name, Value: hasher.Hash(value), Raw: name + "=" + hasher.Hash(value))
                    : (Name: name, Value: value, Raw: p);
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Raw);

        CacheKeys.NormalizePairs(query, options.IgnoredParameters, hasher).Should().Be(string.Join('&', pairs));
    }

    [Test]
    public void CreateKey_Repeated_IsTheKeyOfAFreshRequest()
    {
        using var backend = new CacheBackend();
        var url = "https://example.com/items?b=2&a=1";

        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            backend.CreateKey(request).Should().Be(SlowKey(url, backend.Options));
        }
    }

    [Test]
    public void CreateKey_IgnoredParameterAddedLater_ChangesTheRememberedKey()
    {
        using var backend = new CacheBackend();
        var url = "https://example.com/items?session=1&a=1";
        using var first = new HttpRequestMessage(HttpMethod.Get, url);
        var before = backend.CreateKey(first);

        backend.Options.IgnoredParameters.Add("session");
        using var second = new HttpRequestMessage(HttpMethod.Get, url);

        backend.CreateKey(second).Should().NotBe(before).And.Be(SlowKey("https://example.com/items?a=1", backend.Options));
    }

    [Test]
    public void CreateKey_CredentialHeader_IsNotTakenFromTheMemo()
    {
        using var backend = new CacheBackend();
        var url = "https://example.com/private";
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, url);
        var anonymousKey = backend.CreateKey(anonymous);
        using var alice = new HttpRequestMessage(HttpMethod.Get, url);
        alice.Headers.TryAddWithoutValidation("Authorization", "Bearer alice");
        using var bob = new HttpRequestMessage(HttpMethod.Get, url);
        bob.Headers.TryAddWithoutValidation("Authorization", "Bearer bob");

        var aliceKey = backend.CreateKey(alice);
        var bobKey = backend.CreateKey(bob);

        new[] { anonymousKey, aliceKey, bobKey }.Should().OnlyHaveUniqueItems();
        aliceKey.Should().Be(CacheKeys.CreateKey(alice, backend.Options));
    }

    [Test]
    public void CreateKey_MatchedHeaderAddedLater_EntersTheKey()
    {
        using var backend = new CacheBackend();
        var url = "https://example.com/lang";
        using var first = new HttpRequestMessage(HttpMethod.Get, url);
        first.Headers.TryAddWithoutValidation("Accept-Language", "fr");
        var before = backend.CreateKey(first);

        backend.Options.MatchHeaders.Add("Accept-Language");
        using var second = new HttpRequestMessage(HttpMethod.Get, url);
        second.Headers.TryAddWithoutValidation("Accept-Language", "fr");

        backend.CreateKey(second).Should().NotBe(before).And.Be(CacheKeys.CreateKey(second, backend.Options));
    }

    [Test]
    public void CreateKey_ManyUrls_StaysCorrectPastTheMemoCapacity()
    {
        using var backend = new CacheBackend();
        for (var i = 0; i < CacheKeys.KeyMemo.Capacity + 10; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com/" + i);
            backend.CreateKey(request).Should().Be(SlowKey("https://example.com/" + i, backend.Options));
        }
    }

    [Test]
    public void Deserialize_ChangedMetadataUnderTheSameKey_IsParsedAgain()
    {
        var serializer = new EntrySerializer(new CacheOptions());
        var first = Response("one", HttpStatusCode.OK);
        var second = Response("two", HttpStatusCode.NotFound);

        var a = serializer.Deserialize(serializer.Serialize(first, "k"), "k");
        var b = serializer.Deserialize(serializer.Serialize(first, "k"), "k");
        var c = serializer.Deserialize(serializer.Serialize(second, "k"), "k");

        Encoding.UTF8.GetString(a.Body.Span).Should().Be("one");
        Encoding.UTF8.GetString(b.Body.Span).Should().Be("one");
        b.Headers.GetValue("X-Body").Should().Be("one");
        c.StatusCode.Should().Be(HttpStatusCode.NotFound);
        Encoding.UTF8.GetString(c.Body.Span).Should().Be("two");
        c.Headers.GetValue("X-Body").Should().Be("two");
    }

    [Test]
    public void Deserialize_SameMetadataNewBody_ServesTheNewBody()
    {
        var serializer = new EntrySerializer(new CacheOptions());
        var response = Response("abc", HttpStatusCode.OK);
        serializer.Deserialize(serializer.Serialize(response, "k"), "k");

        var again = serializer.Deserialize(serializer.Serialize(response with { Body = "xyz"u8.ToArray() }, "k"), "k");

        Encoding.UTF8.GetString(again.Body.Span).Should().Be("xyz");
    }

    [Test]
    public void ToHttpResponseMessage_CacheInfo_IsCarriedByTheMessage()
    {
        using var message = Response("abc", HttpStatusCode.OK).ToHttpResponseMessage();
        var info = new CacheInfo(CacheStatus.Hit, "k", null, null, false, false, true);

        message.SetCacheInfo(info);

        message.GetCacheInfo().Should().BeSameAs(info);
        message.IsFromCache().Should().BeTrue();
        message.TrailingHeaders.Should().BeEmpty();
    }

    private static CachedResponse Response(string body, HttpStatusCode status) => new()
    {
        Method = "GET",
        Url = new Uri("https://example.com/x"),
        StatusCode = status,
        CreatedAt = DateTimeOffset.UnixEpoch,
        Headers = new CachedHeaders([new KeyValuePair<string, string[]>("X-Body", [body])]),
        Body = Encoding.UTF8.GetBytes(body),
    };
}
