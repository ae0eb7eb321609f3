using System.Net;
using System.Text;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>The backend methods users call: get, save, delete, list, expire, clear.</summary>
[Parallelizable(ParallelScope.All)]
public class CacheBackendTests
{
    private static readonly DateTimeOffset Now = TestCache.Start;

    private static CachedResponse Stored(string url, DateTimeOffset? expiresAt = null, string? etag = null, string body = "stored")
        => new()
        {
            Method = "GET",
            Url = new Uri(url),
            StatusCode = HttpStatusCode.OK,
            Headers = etag is null ? CachedHeaders.Empty : new CachedHeaders([new("ETag", [etag])]),
            Body = Encoding.UTF8.GetBytes(body),
            CreatedAt = Now,
            ExpiresAt = expiresAt,
        };

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    [Test]
    public async Task SaveResponseAsync_CachedResponse_IsReadBackUnderItsUrlKey()
    {
        using var cache = new TestCache();

        var key = await cache.Backend.SaveResponseAsync(Stored("https://example.com/a", body: "hello"));

        key.Should().Be(cache.KeyOf("https://example.com/a"));
        var read = await cache.Backend.GetResponseAsync(key);
        read.Should().NotBeNull();
        Encoding.UTF8.GetString(read!.Body.Span).Should().Be("hello");
        read.Url.Should().Be(new Uri("https://example.com/a"));
    }

    [Test]
    public async Task SaveResponseAsync_ExplicitKey_IsStoredUnderIt()
    {
        using var cache = new TestCache();

        await cache.Backend.SaveResponseAsync(Stored("https://example.com/a"), "my-key");

        (await cache.Backend.GetResponseAsync("my-key")).Should().NotBeNull();
    }

    [Test]
    public async Task SaveResponseAsync_LiveResponse_StoresItAndServesItAsHit()
    {
        using var cache = new TestCache();
        using var live = new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent("saved by hand"),
            RequestMessage = new HttpRequestMessage(HttpMethod.Get, "https://example.com/manual"),
        };

        var saved = await cache.Backend.SaveResponseAsync(live, expireAfter: TimeSpan.FromMinutes(5));

        saved.ExpiresAt.Should().Be(Now.AddMinutes(5));
        (await live.Content.ReadAsStringAsync()).Should().Be("saved by hand", "the live response stays readable");
        var (hit, body) = await cache.GetAsync("https://example.com/manual");
        hit.IsFromCache().Should().BeTrue();
        body.Should().Be("saved by hand");
        cache.Stub.TotalCalls.Should().Be(0);
    }

    [Test]
    public async Task SaveResponseAsync_LiveResponseWithoutRequest_Throws()
    {
        using var cache = new TestCache();
        using var live = new HttpResponseMessage(HttpStatusCode.OK);

        await FluentActions.Awaiting(() => cache.Backend.SaveResponseAsync(live)).Should().ThrowAsync<ArgumentException>();
    }

    [Test]
    public async Task GetResponseAsync_MissingKey_ReturnsNull()
    {
        using var backend = new CacheBackend();

        (await backend.GetResponseAsync("nothing-here")).Should().BeNull();
    }

    [Test]
    public async Task GetResponseAsync_ExpiredWithoutValidator_ReturnsNullAndDeletes()
    {
        using var cache = new TestCache();
        var key = await cache.Backend.SaveResponseAsync(Stored("https://example.com/a", expiresAt: Now.AddMinutes(1)));
        cache.Time.Advance(TimeSpan.FromMinutes(1));

        (await cache.Backend.GetResponseAsync(key)).Should().BeNull();

        (await cache.Backend.Responses.ContainsAsync(key)).Should().BeFalse();
    }

    [Test]
    public async Task GetResponseAsync_ExpiredWithValidator_ReturnsNullButKeepsItForRevalidation()
    {
        using var cache = new TestCache();
        var key = await cache.Backend.SaveResponseAsync(Stored("https://example.com/a", expiresAt: Now.AddMinutes(1), etag: "\"v1\""));
        cache.Time.Advance(TimeSpan.FromMinutes(2));

        (await cache.Backend.GetResponseAsync(key)).Should().BeNull();

        (await cache.Backend.Responses.ContainsAsync(key)).Should().BeTrue();
    }

    [Test]
    public async Task GetResponseAsync_NotYetExpired_ReturnsIt()
    {
        using var cache = new TestCache();
        var key = await cache.Backend.SaveResponseAsync(Stored("https://example.com/a", expiresAt: Now.AddMinutes(1)));
        cache.Time.Advance(TimeSpan.FromSeconds(59));

        (await cache.Backend.GetResponseAsync(key)).Should().NotBeNull();
    }

    [TestCase(new byte[0])]
    [TestCase(new byte[] { 1, 2, 3 })]
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 9, 0, 0, 0, 0, 0, 0 })]
    public async Task GetResponseAsync_UndecodableEntry_ReturnsNullAndDeletes(byte[] garbage)
    {
        using var cache = new TestCache();
        await cache.Backend.Responses.WriteAsync("bad", garbage);

        (await cache.Backend.GetResponseAsync("bad")).Should().BeNull();

        (await cache.Backend.Responses.ContainsAsync("bad")).Should().BeFalse();
    }

    [Test]
    public async Task GetResponseAsync_AliasToMissingResponse_ReturnsNull()
    {
        using var cache = new TestCache();
        await cache.Backend.Redirects.WriteAsync("alias", Encoding.UTF8.GetBytes("gone"));

        (await cache.Backend.GetResponseAsync("alias")).Should().BeNull();
    }

    [Test]
    public async Task GetResponseAsync_StatusNoLongerAllowed_ReturnsNullAndDeletes()
    {
        using var cache = new TestCache();
        var key = await cache.Backend.SaveResponseAsync(Stored("https://example.com/a"));
        cache.Options.AllowedCodes = new HashSet<int> { 203 };

        (await cache.Backend.GetResponseAsync(key)).Should().BeNull();

        (await cache.Backend.Responses.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteAsync_MissingKey_ReturnsFalse()
    {
        using var backend = new CacheBackend();

        (await backend.DeleteAsync("nothing")).Should().BeFalse();
    }

    [Test]
    public async Task DeleteUrlAsync_StoredUrl_DeletesIt()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a?x=1");
        await cache.GetAsync("https://example.com/b");

        (await cache.Backend.DeleteUrlAsync("https://example.com/a?x=1")).Should().BeTrue();

        (await cache.Backend.HasUrlAsync("https://example.com/a?x=1")).Should().BeFalse();
        (await cache.Backend.HasUrlAsync("https://example.com/b")).Should().BeTrue();
        await cache.GetAsync("https://example.com/a?x=1");
        cache.Stub.CallCount("https://example.com/a?x=1").Should().Be(2);
    }

    [Test]
    public async Task DeleteUrlAsync_Method_DeletesOnlyThatMethod()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a");
        (await cache.SendAsync(HttpMethod.Head, "https://example.com/a")).Dispose();

        (await cache.Backend.DeleteUrlAsync("https://example.com/a", HttpMethod.Head)).Should().BeTrue();

        (await cache.Backend.HasUrlAsync("https://example.com/a")).Should().BeTrue();
        (await cache.Backend.HasUrlAsync("https://example.com/a", HttpMethod.Head)).Should().BeFalse();
    }

    [TestCase("/relative")]
    [TestCase("relative/path")]
    [TestCase("ftp://example.com/file")]
    public async Task UrlMethods_NotAnAbsoluteHttpUrl_Throw(string url)
    {
        using var backend = new CacheBackend();

        await FluentActions.Awaiting(() => backend.DeleteUrlAsync(url).AsTask()).Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "url");
        await FluentActions.Awaiting(() => backend.HasUrlAsync(url).AsTask()).Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "url");
    }

    [Test]
    public async Task HasUrlAsync_EquivalentUrl_IsTrue()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a?b=2&a=1");

        (await cache.Backend.HasUrlAsync("HTTPS://EXAMPLE.COM:443/a?a=1&b=2")).Should().BeTrue();
        (await cache.Backend.HasUrlAsync("https://example.com/a")).Should().BeFalse();
    }

    [Test]
    public async Task GetUrlsAsync_IncludeExpiredFalse_ListsOnlyFreshUrls()
    {
        using var cache = new TestCache();
        // With a validator an expired response is kept (for revalidation), so it can still be listed.
        cache.Stub.Respond("https://example.com/short", StubResponse.Ok("short").WithHeader("ETag", "\"s\""));
        await cache.GetAsync("https://example.com/short", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        await cache.GetAsync("https://example.com/long", r => r.SetExpireAfter(TimeSpan.FromHours(1)));
        await cache.GetAsync("https://example.com/never");
        cache.Time.Advance(TimeSpan.FromMinutes(2));

        var fresh = await ToListAsync(cache.Backend.GetUrlsAsync(includeExpired: false));
        var all = await ToListAsync(cache.Backend.GetUrlsAsync());

        fresh.Should().BeEquivalentTo(["https://example.com/long", "https://example.com/never"]);
        all.Should().BeEquivalentTo(["https://example.com/short", "https://example.com/long", "https://example.com/never"]);
    }

    [Test]
    public async Task GetUrlsAsync_CorruptEntry_IsSkipped()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a");
        await cache.Backend.Responses.WriteAsync("bad", new byte[] { 1, 2, 3 });

        (await ToListAsync(cache.Backend.GetUrlsAsync())).Should().Equal("https://example.com/a");
    }

    [Test]
    public async Task GetResponsesAsync_IncludeExpiredFalse_SkipsExpired()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/old", expiresAt: Now.AddSeconds(1), etag: "\"e\""));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/new", expiresAt: Now.AddHours(1)));
        cache.Time.Advance(TimeSpan.FromMinutes(1));

        var fresh = await ToListAsync(cache.Backend.GetResponsesAsync(includeExpired: false));
        var all = await ToListAsync(cache.Backend.GetResponsesAsync());

        fresh.Select(r => r.Url.AbsoluteUri).Should().Equal("https://example.com/new");
        all.Should().HaveCount(2);
    }

    [Test]
    public async Task DeleteExpiredResponsesAsync_MixedEntries_DeletesExpiredAndTheirAliases()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Stub.Respond("https://example.com/start", StubResponse.Redirect("/end"));
        cache.Stub.Respond("https://example.com/validated", StubResponse.Ok("v").WithHeader("ETag", "\"v\""));
        await cache.GetAsync("https://example.com/start", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        await cache.GetAsync("https://example.com/keep", r => r.SetExpireAfter(TimeSpan.FromHours(1)));
        await cache.GetAsync("https://example.com/validated", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        await cache.Backend.Responses.WriteAsync("corrupt", new byte[] { 9, 9, 9 });
        cache.Time.Advance(TimeSpan.FromMinutes(2));

        var deleted = await cache.Backend.DeleteExpiredResponsesAsync();

        deleted.Should().Be(3, "two expired responses (one kept for its validator, one past its delete-after time) and one undecodable entry");
        (await ToListAsync(cache.Backend.GetUrlsAsync())).Should().Equal("https://example.com/keep");
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteExpiredResponsesAsync_NothingExpired_DeletesNothing()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a");

        (await cache.Backend.DeleteExpiredResponsesAsync()).Should().Be(0);
        (await cache.StoredCountAsync()).Should().Be(1);
    }

    [Test]
    public async Task ClearAsync_ResponsesAndRedirects_EmptiesBoth()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Stub.Respond("https://example.com/start", StubResponse.Redirect("/end"));
        await cache.GetAsync("https://example.com/start");
        await cache.GetAsync("https://example.com/other");

        await cache.Backend.ClearAsync();

        (await cache.Backend.Responses.CountAsync()).Should().Be(0);
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0);
        (await cache.Backend.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteManyAsync_SeveralKeys_DeletesEach()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a");
        await cache.GetAsync("https://example.com/b");
        await cache.GetAsync("https://example.com/c");

        var deleted = await cache.Backend.DeleteManyAsync([cache.KeyOf("https://example.com/a"), cache.KeyOf("https://example.com/b"), "missing"]);

        deleted.Should().Be(2);
        (await ToListAsync(cache.Backend.GetUrlsAsync())).Should().Equal("https://example.com/c");
    }

    [Test]
    public async Task Send_VaryHeader_StoresOneVariantPerValue()
    {
        using var cache = new TestCache();
        cache.Stub.Default = r => StubResponse.Ok("lang " + r.Header("Accept-Language")).WithHeader("Vary", "Accept-Language");

        var en = await cache.GetAsync("https://example.com/v", r => r.Headers.Add("Accept-Language", "en"));
        var fr = await cache.GetAsync("https://example.com/v", r => r.Headers.Add("Accept-Language", "fr"));
        var enAgain = await cache.GetAsync("https://example.com/v", r => r.Headers.Add("Accept-Language", "en"));

        en.Body.Should().Be("lang en");
        fr.Body.Should().Be("lang fr");
        enAgain.Body.Should().Be("lang en");
        enAgain.Response.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.Backend.DeleteUrlAsync("https://example.com/v")).Should().BeTrue();
        (await cache.Backend.Responses.CountAsync()).Should().Be(0, "the index and every variant are deleted");
    }

    [Test]
    public void Dispose_Twice_DisposesStoresOnce()
    {
        var responses = new CountingStore();
        var backend = new CacheBackend(responses, new CountingStore());

        backend.Dispose();
        backend.Dispose();

        responses.IsDisposed.Should().BeTrue();
    }

    [Test]
    public void Name_InMemory_IsMemory()
    {
        using var backend = new CacheBackend();

        backend.Name.Should().Be("memory");
        backend.AutoClose.Should().BeFalse();
    }
}
