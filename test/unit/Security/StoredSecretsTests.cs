using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CachedHttp.Internal;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

[Parallelizable(ParallelScope.All)]
public class StoredSecretsTests
{
    private static readonly HashSet<string> DefaultSecrets = new(CacheOptions.DefaultSecretParameters, StringComparer.OrdinalIgnoreCase);

    [TestCase("https://example.com/a?api_key=s3cr3t&q=1", "https://example.com/a?api_key=REDACTED&q=1")]
    [TestCase("https://example.com/a?q=1&API_KEY=s3cr3t&token=t&access_token=x", "https://example.com/a?q=1&API_KEY=REDACTED&token=REDACTED&access_token=REDACTED")]
    [TestCase("https://example.com/a?api%5Fkey=s3cr3t", "https://example.com/a?api%5Fkey=REDACTED")]
    [TestCase("https://example.com/a?sig=abc&sig=def", "https://example.com/a?sig=REDACTED&sig=REDACTED")]
    [TestCase("https://user:pa55@example.com/a?q=1", "https://REDACTED@example.com/a?q=1")]
    [TestCase("https://example.com/cb#access_token=abc&state=1", "https://example.com/cb#access_token=REDACTED&state=1")]
    [TestCase("https://example.com/a?q=1&password=", "https://example.com/a?q=1&password=REDACTED")]
    [TestCase("https://example.com/a?q=1&keyword=x&monkey=y", "https://example.com/a?q=1&keyword=x&monkey=y")]
    [TestCase("https://example.com/a?q=1", "https://example.com/a?q=1")]
    [TestCase("https://example.com/@home?token", "https://example.com/@home?token")]
    public void RedactUrl_Table(string url, string expected)
        => Secrets.RedactUrl(url, DefaultSecrets).Should().Be(expected);

    [TestCase("https://example.com/b?api_key=REDACTED&q=1", "https://example.com/a?q=1&api_key=s3cr3t", "https://example.com/b?api_key=s3cr3t&q=1")]
    [TestCase("https://example.com/b?sig=REDACTED&sig=REDACTED", "https://example.com/a?sig=x&sig=y", "https://example.com/b?sig=x&sig=y")]
    [TestCase("https://example.com/b?key=REDACTED", "https://example.com/a?keyword=w&key=k", "https://example.com/b?key=k")]
    [TestCase("https://REDACTED@example.com/b?q=1", "https://user:pa55@example.com/a", "https://user:pa55@example.com/b?q=1")]
    [TestCase("https://example.com/cb#access_token=REDACTED&state=1", "https://example.com/a#access_token=abc", "https://example.com/cb#access_token=abc&state=1")]
    [TestCase("https://example.com/b?q=REDACTED", "https://example.com/a?q=zzz", "https://example.com/b?q=REDACTED")]
    [TestCase("https://example.com/b?token=REDACTED", "https://example.com/a?q=1", null)]
    [TestCase("https://example.com/b?sig=REDACTED&sig=REDACTED", "https://example.com/a?sig=x", null)]
    [TestCase("https://REDACTED@example.com/b", "https://example.com/a", null)]
    public void RestoreUrl_Table(string stored, string request, string? expected)
        => Secrets.RestoreUrl(stored, request, DefaultSecrets).Should().Be(expected);

    [Test]
    public void RestoreUrl_NothingRedacted_ReturnsTheStoredInstance()
    {
        var stored = "https://example.com/b?q=1";
        Secrets.RestoreUrl(stored, "https://example.com/a?api_key=k", DefaultSecrets).Should().BeSameAs(stored);
    }

    [Test]
    public void Serialize_RedactsUrlsRequestHeadersAndCredentialVaryValues()
    {
        var serializer = Serializer();
        var response = Json() with
        {
            Url = new Uri("https://api.example.com/items?api_key=QUERY-SECRET&page=1"),
            History = [new CachedRedirect("GET", new Uri("https://user:USERINFO-SECRET@api.example.com/old?token=HOP-SECRET"), 302, [])],
            RequestHeaders = new CachedHeaders(
            [
                new("Authorization", ["Bearer HEADER-SECRET"]),
                new("Cookie", ["sid=COOKIE-SECRET"]),
                new("Proxy-Authorization", ["Basic PROXY-SECRET"]),
                new("X-Api-Key", ["XKEY-SECRET"]),
                new("Accept", ["application/json"]),
            ]),
            VaryValues = new CachedHeaders([new("authorization", ["Bearer VARY-SECRET"]), new("accept-language", ["en"])]),
        };

        var bytes = serializer.Serialize(response, Key);
        var read = serializer.Deserialize(bytes, Key);

        foreach (var secret in new[] { "QUERY-SECRET", "USERINFO-SECRET", "HOP-SECRET", "HEADER-SECRET", "COOKIE-SECRET", "PROXY-SECRET", "XKEY-SECRET", "VARY-SECRET" })
        {
            Contains(bytes, secret).Should().BeFalse(secret);
        }

        read.Url.OriginalString.Should().Be("https://api.example.com/items?api_key=REDACTED&page=1");
        read.History[0].Url.OriginalString.Should().Be("https://REDACTED@api.example.com/old?token=REDACTED");
        read.RequestHeaders.GetValue("Authorization").Should().Be("REDACTED");
        read.RequestHeaders.GetValue("Cookie").Should().Be("REDACTED");
        read.RequestHeaders.GetValue("Proxy-Authorization").Should().Be("REDACTED");
        read.RequestHeaders.GetValue("X-Api-Key").Should().Be("REDACTED");
        read.RequestHeaders.GetValue("Accept").Should().Be("application/json");
        read.VaryValues.GetValue("authorization").Should().StartWith(Secrets.HashPrefix);
        read.VaryValues.GetValue("accept-language").Should().Be("en");
    }

    [Test]
    public void Serialize_CustomSecretParameters_AreRedacted()
    {
        var options = new CacheOptions { SecretParameters = new HashSet<string> { "session" } };
        var serializer = new EntrySerializer(options);

        var bytes = serializer.Serialize(Json() with { Url = new Uri("https://example.com/?session=S-1&api_key=K-1") }, Key);

        Contains(bytes, "S-1").Should().BeFalse();
        Contains(bytes, "K-1").Should().BeTrue("api_key is not secret in this configuration");
    }

    [Test]
    public void ResponseFactory_StoredRequestHeaders_RedactCredentials()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com/a?api_key=QUERY-SECRET");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "HEADER-SECRET");
        request.Headers.ProxyAuthorization = new AuthenticationHeaderValue("Basic", "PROXY-SECRET");
        request.Headers.TryAddWithoutValidation("Cookie", "sid=COOKIE-SECRET");
        request.Headers.TryAddWithoutValidation("X-Api-Key", "XKEY-SECRET");
        request.Headers.TryAddWithoutValidation("X-Trace", "visible");
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("ok") };

        var cached = ResponseFactory.Create(response, request, "ok"u8.ToArray(), Created, Created, [], new CacheOptions());

        cached.RequestHeaders.GetValue("Authorization").Should().Be("REDACTED");
        cached.RequestHeaders.GetValue("Proxy-Authorization").Should().Be("REDACTED");
        cached.RequestHeaders.GetValue("Cookie").Should().Be("REDACTED");
        cached.RequestHeaders.GetValue("X-Api-Key").Should().Be("REDACTED");
        cached.RequestHeaders.GetValue("X-Trace").Should().Be("visible");
    }

    [Test]
    public async Task Send_HitOfARedactedUrl_ShowsTheCallersOwnUrl()
    {
        var origin = new StubOrigin(_ => "payload");
        using var backend = new CacheBackend();
        using var client = new HttpClient(new CachingHandler(backend, origin));
        var url = "https://api.example.com/items?api_key=CALLER-KEY&page=1";

        using var miss = await client.GetAsync(url);
        using var hit = await client.GetAsync(url);

        origin.Requests.Should().Be(1);
        hit.IsFromCache().Should().BeTrue();
        hit.RequestMessage!.RequestUri!.OriginalString.Should().Be(url);
        (await hit.Content.ReadAsStringAsync()).Should().Be("payload");
        (await backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://api.example.com/items?api_key=REDACTED&page=1");
    }

    [Test]
    public async Task Send_VaryByAuthorization_SelectsEachUsersVariantWithoutStoringTheToken()
    {
        var origin = new StubOrigin(r => "hello " + r.Headers.Authorization?.Parameter, vary: "Authorization");
        using var backend = new CacheBackend(new CacheOptions { ShareAcrossCredentials = true });
        using var client = new HttpClient(new CachingHandler(backend, origin));

        async Task<string> Get(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com/me");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            return await response.Content.ReadAsStringAsync();
        }

        (await Get("TOKEN-A")).Should().Be("hello TOKEN-A");
        (await Get("TOKEN-B")).Should().Be("hello TOKEN-B");
        (await Get("TOKEN-A")).Should().Be("hello TOKEN-A");
        (await Get("TOKEN-B")).Should().Be("hello TOKEN-B");

        origin.Requests.Should().Be(2);
        await foreach (var entry in backend.Responses.GetEntriesAsync())
        {
            Contains(entry.Value, "Bearer TOKEN").Should().BeFalse();
        }
    }

    /// <summary>An origin without sockets: answers every request with a text body.</summary>
    internal sealed class StubOrigin(Func<HttpRequestMessage, string> body, string? vary = null) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new StringContent(body(request), Encoding.UTF8, "text/plain") };
            if (vary is not null)
            {
                response.Headers.Vary.Add(vary);
            }

            return Task.FromResult(response);
        }
    }
}
