using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Internal;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

[Parallelizable(ParallelScope.All)]
public class CredentialKeyingTests
{
    private const string GoldenKey = "e93c762132a09fb2398beafee0ed2e9f4240ad941e905581631b9ac9e70ab40e";

    [Test]
    public void CreateKey_GoldenVector_IsUnchanged()
        => Key("https://example.com?param=1&foo=bar").Should().Be(GoldenKey);

    [TestCase("Authorization", "Bearer alice", "Bearer bob")]
    [TestCase("Proxy-Authorization", "Basic YTpi", "Basic YzpkCg==")]
    [TestCase("Cookie", "session=1", "session=2")]
    [TestCase("X-Api-Key", "one", "two")]
    [TestCase("api-key", "one", "two")]
    public void CreateKey_DifferentCredentials_GiveDifferentKeys(string header, string first, string second)
    {
        var a = Key("https://example.com/me", header: (header, first));
        var b = Key("https://example.com/me", header: (header, second));
        var again = Key("https://example.com/me", header: (header, first));

        a.Should().NotBe(b);
        a.Should().Be(again);
    }

    [Test]
    public void CreateKey_Credential_IsAKeyedHash()
    {
        // The unkeyed material of the previous scheme: whoever reads a key could test password guesses against it.
        var unkeyed = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("GET" + "https://example.com/me" + "\nauthorization:Basic dXNlcjpodW50ZXIy")));
        var first = new CacheOptions { CredentialKey = NewKey(32, 1) };
        var second = new CacheOptions { CredentialKey = NewKey(32, 2) };

        var withDefault = Key("https://example.com/me", header: ("Authorization", "Basic dXNlcjpodW50ZXIy"));
        var withFirst = Key("https://example.com/me", first, ("Authorization", "Basic dXNlcjpodW50ZXIy"));
        var withSecond = Key("https://example.com/me", second, ("Authorization", "Basic dXNlcjpodW50ZXIy"));

        new[] { unkeyed, withDefault, withFirst, withSecond }.Should().OnlyHaveUniqueItems();
    }

    [Test]
    public void CredentialKey_IsDerivedFromTheFirstSigningThenEncryptionKey()
    {
        var signing = new CacheOptions();
        signing.Serializer.SigningKeys.Add(NewKey(32, 5));
        var encryption = new CacheOptions();
        encryption.Serializer.EncryptionKeys.Add(NewKey(32, 6));
        var both = new CacheOptions();
        both.Serializer.SigningKeys.Add(NewKey(32, 5));
        both.Serializer.EncryptionKeys.Add(NewKey(32, 6));

        var none = Secrets.CredentialKeyOf(new CacheOptions());

        Secrets.CredentialKeyOf(signing).Should().NotEqual(none).And.NotEqual(NewKey(32, 5), "the signing key itself is not reused");
        Secrets.CredentialKeyOf(encryption).Should().NotEqual(none).And.NotEqual(Secrets.CredentialKeyOf(signing));
        Secrets.CredentialKeyOf(both).Should().Equal(Secrets.CredentialKeyOf(signing));
        Secrets.CredentialKeyOf(new CacheOptions { CredentialKey = NewKey(32, 7) }).Should().Equal(NewKey(32, 7));
    }

    [Test]
    public void CreateKey_ShareAcrossCredentials_IgnoresCredentialsAndSecretHeaders()
    {
        var options = new CacheOptions { ShareAcrossCredentials = true };

        Key("https://example.com/", options, ("Authorization", "Bearer a")).Should().Be(Key("https://example.com/", options, ("Authorization", "Bearer b")));
        Key("https://example.com/", options, ("X-Api-Key", "a")).Should().Be(Key("https://example.com/", options));
    }

    [Test]
    public void CreateKey_SecretQueryParameter_IsStillPartOfTheKeyButHashed()
    {
        var a = Key("https://example.com/data?api_key=one&q=1");
        var b = Key("https://example.com/data?api_key=two&q=1");
        var plain = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("GET" + "https://example.com/data?api_key=one&q=1")));

        a.Should().NotBe(b);
        a.Should().NotBe(plain);
        Key("https://example.com/data?q=1&API_KEY=one").Should().NotBe(Key("https://example.com/data?q=1&API_KEY=two"));
    }

    [Test]
    public void CreateKey_IgnoredSecretParameter_IsRemoved()
    {
        var options = new CacheOptions { IgnoredParameters = new HashSet<string> { "api_key" } };

        Key("https://example.com?param=1&api_key=one&foo=bar", options).Should().Be(GoldenKey);
    }

    [Test]
    public void CreateKey_SecretsInFormAndJsonBodies_AreKeyedByValue()
    {
        static string Post(HttpContent content)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "https://example.com/login") { Content = content };
            return CacheKeys.CreateKey(request);
        }

        Post(new FormUrlEncodedContent([new("user", "a"), new("password", "one")]))
            .Should().NotBe(Post(new FormUrlEncodedContent([new("user", "a"), new("password", "two")])));
        Post(new FormUrlEncodedContent([new("password", "one"), new("user", "a")]))
            .Should().Be(Post(new FormUrlEncodedContent([new("user", "a"), new("password", "one")])));
        Post(new StringContent("""{"password":"one","user":"a"}""", Encoding.UTF8, "application/json"))
            .Should().NotBe(Post(new StringContent("""{"password":"two","user":"a"}""", Encoding.UTF8, "application/json")));
        Post(new StringContent("""{"user":"a","password":"one"}""", Encoding.UTF8, "application/json"))
            .Should().Be(Post(new StringContent("""{"password":"one","user":"a"}""", Encoding.UTF8, "application/json")));
    }

    [Test]
    public void VaryValuesOf_CredentialHeader_IsAKeyedHash()
    {
        var options = new CacheOptions();
        using var alice = new HttpRequestMessage(HttpMethod.Get, "https://example.com/");
        alice.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "alice-token");
        alice.Headers.AcceptLanguage.ParseAdd("en-US");
        using var bob = new HttpRequestMessage(HttpMethod.Get, "https://example.com/");
        bob.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bob-token");

        var aliceValues = CacheBackend.VaryValuesOf(alice, ["authorization", "accept-language"], options);
        var bobValues = CacheBackend.VaryValuesOf(bob, ["authorization", "accept-language"], options);

        aliceValues.GetValue("authorization").Should().StartWith(Secrets.HashPrefix).And.NotContain("alice-token");
        aliceValues.GetValue("accept-language").Should().Be("en-us");
        bobValues.GetValue("authorization").Should().NotBe(aliceValues.GetValue("authorization"));
        bobValues.TryGetValues("accept-language", out var absent).Should().BeTrue();
        absent.Should().BeEmpty();
    }

    private static string Key(string url, CacheOptions? options = null, (string Name, string Value)? header = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (header is { } h)
        {
            request.Headers.TryAddWithoutValidation(h.Name, h.Value).Should().BeTrue();
        }

        return CacheKeys.CreateKey(request, options);
    }

    private static string Key(string url, (string Name, string Value) header) => Key(url, null, header);
}
