using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace CachedHttp.Testing;

/// <summary>
/// The inspection and management contract every <see cref="CacheBackend"/> must pass over its real storage: listing
/// entries with their metadata, filters, deletes by filter, URL, request and age (with Vary variants and redirect
/// aliases), expiration resets and statistics. Subclass it once per backend, implement <see cref="CreateBackendAsync"/>
/// and add <c>[TestFixture]</c>.
/// </summary>
/// <remarks>
/// <para>
/// Responses are saved directly (<see cref="CacheBackend.SaveResponseAsync(CachedResponse, string?, CancellationToken)"/>),
/// without an origin. Responses that a test lets expire carry an ETag, so that every storage keeps them (for
/// revalidation) whether it expires values by the fake clock or by a native TTL in real time.
/// </para>
/// <para>
/// A backend that needs a server it cannot reach should call <see cref="Assert.Ignore(string)"/> from
/// <see cref="CreateBackendAsync"/> with the reason. <see cref="CreateBackendAsync"/> may move the clock forward (never
/// back) before returning; tests read the time after creating their backend.
/// </para>
/// </remarks>
public abstract class CacheInspectionContractTests
{
    private readonly List<CacheBackend> _backends = [];

    /// <summary>Gets the fake clock of the current test (start: 2026-01-01 UTC).</summary>
    protected FakeTimeProvider Time { get; private set; } = null!;

    /// <summary>Creates a new, empty backend with the given options.</summary>
    /// <param name="options">The options (with this test's fake clock).</param>
    /// <param name="name">A name unique to this test (a file, table, prefix or database name can be derived from it).</param>
    protected abstract ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name);

    /// <summary>Gives each test a fresh clock.</summary>
    [SetUp]
    public void ResetClock() => Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Clears and disposes the backends the test created.</summary>
    [TearDown]
    public async Task DisposeBackends()
    {
        foreach (var backend in _backends)
        {
            try
            {
                await backend.ClearAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                TestContext.Out.WriteLine($"Clear after test failed: {ex.Message}");
            }

            await backend.DisposeAsync();
        }

        _backends.Clear();
    }

    /// <summary>Creates a backend with the given option changes and registers it for disposal.</summary>
    /// <param name="configure">Changes to the options, or null.</param>
    protected async Task<CacheBackend> NewBackendAsync(Action<CacheOptions>? configure = null)
    {
        var options = new CacheOptions { TimeProvider = Time };
        configure?.Invoke(options);
        var backend = await CreateBackendAsync(options, "i" + Guid.NewGuid().ToString("N")[..12]);
        _backends.Add(backend);
        return backend;
    }

    private DateTimeOffset Now => Time.GetUtcNow();

    private static string KeyOf(CacheBackend backend, string url, string method = "GET")
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        return backend.CreateKey(request);
    }

    private CachedResponse Response(string url, TimeSpan? expireAfter = null, string body = "body", int status = 200, string method = "GET", bool etag = false, TimeSpan? age = null)
        => new()
        {
            Method = method,
            Url = new Uri(url),
            StatusCode = (HttpStatusCode)status,
            Headers = etag ? new CachedHeaders([new("ETag", ["\"" + Guid.NewGuid().ToString("N")[..8] + "\""])]) : CachedHeaders.Empty,
            ContentHeaders = new CachedHeaders([new("Content-Type", ["text/plain"])]),
            Body = Encoding.UTF8.GetBytes(body),
            CreatedAt = Now - (age ?? TimeSpan.Zero),
            RequestTime = Now - (age ?? TimeSpan.Zero),
            ExpiresAt = expireAfter is { } after ? Now + after : null,
        };

    /// <summary>Saves a variant of <paramref name="url"/> selected by <c>Accept-Language: <paramref name="language"/></c>, with redirect aliases.</summary>
    private async Task<string> SaveVariantAsync(CacheBackend backend, string url, string language, TimeSpan? expireAfter = null, params string[] aliasUrls)
    {
        var response = Response(url, expireAfter, "lang " + language) with
        {
            Headers = new CachedHeaders([new("Vary", ["Accept-Language"])]),
            VaryValues = new CachedHeaders([new("accept-language", [language])]),
            AliasKeys = aliasUrls.Select(alias => KeyOf(backend, alias)).ToArray(),
        };
        return await backend.SaveResponseAsync(response, KeyOf(backend, url));
    }

    private static async Task<List<CacheEntry>> EntriesAsync(CacheBackend backend, CacheEntryFilter? filter = null)
    {
        var entries = new List<CacheEntry>();
        await foreach (var entry in backend.GetEntriesAsync(filter))
        {
            entries.Add(entry);
        }

        return entries;
    }

    private static async Task<string[]> PathsAsync(CacheBackend backend, CacheEntryFilter? filter = null)
        => (await EntriesAsync(backend, filter)).Select(e => e.Url.AbsolutePath).Order(StringComparer.Ordinal).ToArray();

    private static async Task<CachedResponse?> LookupAsync(CacheBackend backend, string url, string? language = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (language is not null)
        {
            request.Headers.Add("Accept-Language", language);
        }

        return (await backend.LookupAsync(backend.CreateKey(request), request, CancellationToken.None)).Response;
    }

    /// <summary>Every listed field is what was stored; sizes are the body's and the stored value's.</summary>
    [Test]
    public async Task GetEntriesAsync_StoredResponses_ListTheirMetadata()
    {
        var backend = await NewBackendAsync(o => o.AllowedMethods = new HashSet<string>(["GET", "POST"], StringComparer.OrdinalIgnoreCase));
        var stored = Now;
        await backend.SaveResponseAsync(Response("https://example.com/a?page=1", TimeSpan.FromHours(1), new string('a', 1234)));
        await backend.SaveResponseAsync(Response("https://example.com/created", status: 201, method: "POST"), KeyOf(backend, "https://example.com/created", "POST"));
        await backend.SaveResponseAsync(Response("https://example.com/missing", status: 404, body: string.Empty));

        var entries = await EntriesAsync(backend);

        Assert.That(entries, Has.Count.EqualTo(3));
        var a = entries.Single(e => e.Url.AbsolutePath == "/a");
        Assert.Multiple(() =>
        {
            Assert.That(a.Key, Is.EqualTo(KeyOf(backend, "https://example.com/a?page=1")));
            Assert.That(a.Url, Is.EqualTo(new Uri("https://example.com/a?page=1")));
            Assert.That(a.Method, Is.EqualTo("GET"));
            Assert.That(a.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(a.BodySize, Is.EqualTo(1234));
            Assert.That(a.StoredSize, Is.GreaterThan(1234));
            Assert.That(a.CreatedAt, Is.EqualTo(stored));
            Assert.That(a.ExpiresAt, Is.EqualTo(stored.AddHours(1)));
            Assert.That(a.DeleteAfter, Is.Null.Or.EqualTo(stored.AddHours(1)).Within(TimeSpan.FromSeconds(30)));
            Assert.That(a.LastUsedAt, Is.Null.Or.LessThanOrEqualTo(Now.AddSeconds(30)));
            var created = entries.Single(e => e.Url.AbsolutePath == "/created");
            Assert.That((created.Method, created.StatusCode, created.ExpiresAt), Is.EqualTo(("POST", HttpStatusCode.Created, (DateTimeOffset?)null)));
            var missing = entries.Single(e => e.Url.AbsolutePath == "/missing");
            Assert.That((missing.StatusCode, missing.BodySize), Is.EqualTo((HttpStatusCode.NotFound, 0L)));
        });
    }

    /// <summary>A large body, and metadata larger than any head a storage returns, are listed with the right sizes.</summary>
    [Test]
    public async Task GetEntriesAsync_LargeBodyOrMetadata_ListsRightSizes()
    {
        var backend = await NewBackendAsync();
        await backend.SaveResponseAsync(Response("https://example.com/big-body", body: new string('b', 300_000)));
        var headers = new CachedHeaders(Enumerable.Range(0, 400).Select(i => new KeyValuePair<string, string[]>("X-Header-" + i, [new string('h', 60)])));
        await backend.SaveResponseAsync(Response("https://example.com/big-metadata", body: new string('m', 2000)) with { Headers = headers });

        var entries = await EntriesAsync(backend);

        Assert.That(entries.Single(e => e.Url.AbsolutePath == "/big-body").BodySize, Is.EqualTo(300_000));
        Assert.That(entries.Single(e => e.Url.AbsolutePath == "/big-metadata").BodySize, Is.EqualTo(2000));
        Assert.That(entries.Single(e => e.Url.AbsolutePath == "/big-metadata").StoredSize, Is.GreaterThan(24_000));
    }

    /// <summary>Each criterion of a filter selects what it says; criteria combine with AND.</summary>
    [Test]
    public async Task GetEntriesAsync_Filters_SelectWhatTheySay()
    {
        var backend = await NewBackendAsync(o => o.AllowedMethods = new HashSet<string>(["GET", "POST"], StringComparer.OrdinalIgnoreCase));
        await backend.SaveResponseAsync(Response("https://example.com/api/old", TimeSpan.FromMinutes(1), etag: true, age: TimeSpan.FromHours(3)));
        await backend.SaveResponseAsync(Response("https://example.com/api/new", TimeSpan.FromHours(2)));
        await backend.SaveResponseAsync(Response("https://example.com/web/missing", status: 404));
        await backend.SaveResponseAsync(Response("https://example.com/api/post", method: "POST"), KeyOf(backend, "https://example.com/api/post", "POST"));
        Time.Advance(TimeSpan.FromMinutes(2));

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(await PathsAsync(backend), Has.Length.EqualTo(4));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { Expired = true }), Is.EqualTo(new[] { "/api/old" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { Expired = false }), Is.EqualTo(new[] { "/api/new", "/api/post", "/web/missing" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { OlderThan = TimeSpan.FromHours(1) }), Is.EqualTo(new[] { "/api/old" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { UrlPattern = "example.com/api/*" }), Is.EqualTo(new[] { "/api/new", "/api/old", "/api/post" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { UrlPattern = "*/WEB" }), Is.EqualTo(new[] { "/web/missing" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { StatusCodes = [404, 410] }), Is.EqualTo(new[] { "/web/missing" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { Methods = ["post"] }), Is.EqualTo(new[] { "/api/post" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { Predicate = e => e.Url.AbsolutePath.EndsWith("new", StringComparison.Ordinal) }), Is.EqualTo(new[] { "/api/new" }));
            Assert.That(await PathsAsync(backend, new CacheEntryFilter { UrlPattern = "example.com/api/", Methods = ["GET"], Expired = false }), Is.EqualTo(new[] { "/api/new" }));
            Assert.That(await backend.CountAsync(new CacheEntryFilter { UrlPattern = "example.com/api/" }), Is.EqualTo(3));
        });
    }

    /// <summary>Vary variants are listed one by one; their index and redirect aliases are not responses.</summary>
    [Test]
    public async Task GetEntriesAsync_VaryVariantsAndAliases_ListsVariantsOnly()
    {
        var backend = await NewBackendAsync();
        await SaveVariantAsync(backend, "https://example.com/v", "en", aliasUrls: "https://example.com/hop");
        await SaveVariantAsync(backend, "https://example.com/v", "fr", aliasUrls: "https://example.com/hop");

        var entries = await EntriesAsync(backend);

        Assert.That(entries, Has.Count.EqualTo(2));
        Assert.That(entries.Select(e => e.VaryValues.GetValue("accept-language")), Is.EquivalentTo(new[] { "en", "fr" }));
        Assert.That(entries.Select(e => e.Key), Does.Not.Contain(KeyOf(backend, "https://example.com/v")));
        Assert.That(await backend.Responses.CountAsync(), Is.EqualTo(3), "two variants and their index");
        Assert.That(await backend.Redirects.CountAsync(), Is.EqualTo(1));
    }

    /// <summary>A value that is not a readable entry is skipped by listings and counted as unreadable.</summary>
    [Test]
    public async Task GetEntriesAsync_UndecodableValue_IsSkipped()
    {
        var backend = await NewBackendAsync();
        await backend.SaveResponseAsync(Response("https://example.com/good"));
        await backend.Responses.WriteAsync("garbage", new byte[] { 0x43, 0x48, 0x43, 0x09, 1, 2, 3 });

        Assert.That(await PathsAsync(backend), Is.EqualTo(new[] { "/good" }));
        var statistics = await backend.GetStatisticsAsync();
        Assert.That((statistics.ResponseCount, statistics.UnreadableCount), Is.EqualTo((1L, 1L)));
    }

    /// <summary>A response past its storage delete-after time is either gone or listed as expired — never an error — whether or not the storage has swept it.</summary>
    [Test]
    public async Task GetEntriesAsync_ResponsePastItsDeleteAfterTime_IsGoneOrExpired()
    {
        var backend = await NewBackendAsync();
        await backend.SaveResponseAsync(Response("https://example.com/gone", TimeSpan.FromMinutes(1)));
        await backend.SaveResponseAsync(Response("https://example.com/kept", TimeSpan.FromHours(1)));
        Time.Advance(TimeSpan.FromMinutes(2));

        var entries = await EntriesAsync(backend);
        var statistics = await backend.GetStatisticsAsync();
        await backend.DeleteExpiredResponsesAsync();

        Assert.That(entries.Where(e => e.Url.AbsolutePath == "/gone"), Is.All.Matches<CacheEntry>(e => e.IsExpired(Now)));
        Assert.That(entries.Count(e => e.Url.AbsolutePath == "/kept"), Is.EqualTo(1));
        Assert.That(statistics.UnreadableCount, Is.Zero);
        Assert.That(await PathsAsync(backend), Is.EqualTo(new[] { "/kept" }));
    }

    /// <summary>Encrypted and signed entries are listed, large or small, and reset in place.</summary>
    [Test]
    public async Task EncryptedAndSignedBackend_ListsAndResetsEntries()
    {
        var backend = await NewBackendAsync(o =>
        {
            o.Serializer.EncryptionKeys = [Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()];
            o.Serializer.SigningKeys = [Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray()];
        });
        await backend.SaveResponseAsync(Response("https://example.com/small", TimeSpan.FromMinutes(1), etag: true));
        await backend.SaveResponseAsync(Response("https://example.com/large", TimeSpan.FromMinutes(1), new string('l', 200_000), etag: true));

        Assert.That(await PathsAsync(backend), Is.EqualTo(new[] { "/large", "/small" }));
        Assert.That(await backend.ResetExpirationAsync(TimeSpan.FromDays(1)), Is.EqualTo(2));
        Time.Advance(TimeSpan.FromHours(1));
        var large = await LookupAsync(backend, "https://example.com/large");
        Assert.That(large, Is.Not.Null);
        Assert.That(large!.Body.Length, Is.EqualTo(200_000));
        Assert.That(large.IsExpired(Now), Is.False);
    }

    /// <summary>A filtered delete removes the matching responses with their aliases, and nothing else.</summary>
    [Test]
    public async Task DeleteAsync_Filter_RemovesMatchesWithTheirAliases()
    {
        var backend = await NewBackendAsync();
        await backend.SaveResponseAsync(Response("https://example.com/api/a") with { AliasKeys = [KeyOf(backend, "https://example.com/old-a")] });
        await backend.SaveResponseAsync(Response("https://example.com/api/b", status: 404));
        await backend.SaveResponseAsync(Response("https://example.com/web/c") with { AliasKeys = [KeyOf(backend, "https://example.com/old-c")] });

        var deleted = await backend.DeleteAsync(new CacheEntryFilter { UrlPattern = "example.com/api/*", StatusCodes = [200] });

        Assert.That(deleted, Is.EqualTo(1));
        Assert.That(await PathsAsync(backend), Is.EqualTo(new[] { "/api/b", "/web/c" }));
        Assert.That(await backend.GetResponseAsync(KeyOf(backend, "https://example.com/old-a")), Is.Null);
        Assert.That(await backend.GetResponseAsync(KeyOf(backend, "https://example.com/old-c")), Is.Not.Null);
        Assert.That(await backend.Redirects.CountAsync(), Is.EqualTo(1));
    }

    /// <summary>Deleting some variants keeps the URL's index and aliases for the others; deleting all removes them.</summary>
    [Test]
    public async Task DeleteAsync_VaryVariants_KeepIndexUntilTheLastGoes()
    {
        var backend = await NewBackendAsync();
        await SaveVariantAsync(backend, "https://example.com/v", "en", aliasUrls: "https://example.com/hop");
        await SaveVariantAsync(backend, "https://example.com/v", "fr", aliasUrls: "https://example.com/hop");

        Assert.That(await backend.DeleteWhereAsync(e => e.VaryValues.GetValue("accept-language") == "fr"), Is.EqualTo(1));
        Assert.That(await LookupAsync(backend, "https://example.com/hop", "en"), Is.Not.Null, "the alias and the index still lead to the other variant");
        Assert.That(await LookupAsync(backend, "https://example.com/v", "fr"), Is.Null);

        Assert.That(await backend.DeleteAsync(new CacheEntryFilter { UrlPattern = "example.com/v" }), Is.EqualTo(1));
        Assert.That(await backend.Responses.CountAsync(), Is.Zero, "the index goes with the last variant");
        Assert.That(await backend.Redirects.CountAsync(), Is.Zero);
    }

    /// <summary>Deletes by URLs, by requests and by age remove exactly what they name.</summary>
    [Test]
    public async Task DeleteUrlsRequestsAndOlderThan_RemoveWhatTheyName()
    {
        var backend = await NewBackendAsync();
        await backend.SaveResponseAsync(Response("https://example.com/1?b=2&a=1"));
        await backend.SaveResponseAsync(Response("https://example.com/2"));
        await backend.SaveResponseAsync(Response("https://example.com/3", age: TimeSpan.FromDays(2)));
        await backend.SaveResponseAsync(Response("https://example.com/4"));
        await SaveVariantAsync(backend, "https://example.com/v", "en");
        await SaveVariantAsync(backend, "https://example.com/v", "de");

        Assert.That(await backend.DeleteUrlsAsync(["https://example.com/1?a=1&b=2", "https://example.com/v", "https://example.com/none"]), Is.EqualTo(2));
        using (var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com/2"))
        {
            Assert.That(await backend.DeleteRequestsAsync([request]), Is.EqualTo(1));
        }

        Assert.That(await backend.DeleteOlderThanAsync(TimeSpan.FromDays(1)), Is.EqualTo(1));
        Assert.That(await PathsAsync(backend), Is.EqualTo(new[] { "/4" }));
        Assert.That(await backend.Responses.CountAsync(), Is.EqualTo(1), "no variant or index left behind");
    }

    /// <summary>A reset gives responses a new expiry from now, and moves the delete-after time of them, their aliases and their Vary index.</summary>
    [Test]
    public async Task ResetExpirationAsync_MovesExpiryOfResponsesAliasesAndVariants()
    {
        var backend = await NewBackendAsync();
        var plainKey = await backend.SaveResponseAsync(Response("https://example.com/plain", TimeSpan.FromMinutes(1)) with { AliasKeys = [KeyOf(backend, "https://example.com/hop")] });
        await SaveVariantAsync(backend, "https://example.com/v", "en", TimeSpan.FromMinutes(1));
        await backend.SaveResponseAsync(Response("https://example.com/other", TimeSpan.FromMinutes(1), etag: true));
        Time.Advance(TimeSpan.FromSeconds(30));
        var resetAt = Now;

        var updated = await backend.ResetExpirationAsync(TimeSpan.FromHours(6), new CacheEntryFilter { Predicate = e => e.Url.AbsolutePath != "/other" });

        Assert.That(updated, Is.EqualTo(2));
        var entries = await EntriesAsync(backend);
        Assert.That(entries.Where(e => e.Url.AbsolutePath != "/other").Select(e => e.ExpiresAt), Is.All.EqualTo(resetAt.AddHours(6)));
        Assert.That(entries.Single(e => e.Url.AbsolutePath == "/other").ExpiresAt, Is.EqualTo(resetAt.AddSeconds(30)));
        Assert.That(entries.Select(e => e.CreatedAt), Is.All.EqualTo(resetAt.AddSeconds(-30)), "created-at is kept");
        Time.Advance(TimeSpan.FromHours(1));
        Assert.That(await backend.GetResponseAsync(plainKey), Is.Not.Null);
        Assert.That(await backend.GetResponseAsync(KeyOf(backend, "https://example.com/hop")), Is.Not.Null, "the alias lives on");
        Assert.That(await LookupAsync(backend, "https://example.com/v", "en"), Is.Not.Null, "the index lives on");
    }

    /// <summary>Statistics count each kind of stored value and add up the bytes of both stores.</summary>
    [Test]
    public async Task GetStatisticsAsync_CountsAndSumsBothStores()
    {
        var backend = await NewBackendAsync();
        var first = Now;
        await backend.SaveResponseAsync(Response("https://example.com/expiring", TimeSpan.FromMinutes(1), "12345", etag: true) with { AliasKeys = [KeyOf(backend, "https://example.com/hop")] });
        Time.Advance(TimeSpan.FromMinutes(5));
        await SaveVariantAsync(backend, "https://example.com/v", "en");
        await SaveVariantAsync(backend, "https://example.com/v", "fr");

        var statistics = await backend.GetStatisticsAsync();

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(statistics.Backend, Is.EqualTo(backend.Name));
            Assert.That(statistics.ResponseCount, Is.EqualTo(3));
            Assert.That(statistics.ExpiredCount, Is.EqualTo(1));
            Assert.That(statistics.VaryIndexCount, Is.EqualTo(1));
            Assert.That(statistics.RedirectCount, Is.EqualTo(1));
            Assert.That(statistics.UnreadableCount, Is.Zero);
            Assert.That(statistics.BodyBytes, Is.EqualTo(5 + "lang en".Length + "lang fr".Length));
            Assert.That(statistics.ResponseBytes, Is.EqualTo(await backend.Responses.GetTotalBytesAsync()));
            Assert.That(statistics.RedirectBytes, Is.EqualTo(await backend.Redirects.GetTotalBytesAsync()).And.GreaterThan(0));
            Assert.That(statistics.TotalBytes, Is.EqualTo(statistics.ResponseBytes + statistics.RedirectBytes));
            Assert.That(statistics.OldestCreatedAt, Is.EqualTo(first));
            Assert.That(statistics.NewestCreatedAt, Is.EqualTo(first.AddMinutes(5)));
        });
    }
}
