using System.Collections.Concurrent;
using System.Net;
using System.Text;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Inspection and management: listing with metadata, filters, deletes, expiration resets, statistics.</summary>
[Parallelizable(ParallelScope.All)]
public class InspectionTests
{
    private static readonly DateTimeOffset Now = TestCache.Start;

    private static CachedResponse Stored(string url, DateTimeOffset? expiresAt = null, string body = "stored", int status = 200, string method = "GET", string? etag = null, DateTimeOffset? createdAt = null)
        => new()
        {
            Method = method,
            Url = new Uri(url),
            StatusCode = (HttpStatusCode)status,
            Headers = etag is null ? CachedHeaders.Empty : new CachedHeaders([new("ETag", [etag])]),
            ContentHeaders = new CachedHeaders([new("Content-Type", ["text/plain"])]),
            Body = Encoding.UTF8.GetBytes(body),
            CreatedAt = createdAt ?? Now,
            ExpiresAt = expiresAt,
        };

    private static byte[] Key32(int seed) => Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + seed)).ToArray();

    private static void Encrypted(CacheOptions options) => options.Serializer.EncryptionKeys = [Key32(1)];

    private static void Signed(CacheOptions options) => options.Serializer.SigningKeys = [Key32(2)];

    private static TestCache WithStores(BaseCache? responses = null, BaseCache? redirects = null, Action<CacheOptions>? configure = null, bool followRedirects = false)
        => new(configure, followRedirects: followRedirects, backend: o => new CacheBackend(responses ?? new InMemoryCache(o.TimeProvider), redirects ?? new InMemoryCache(o.TimeProvider), o));

    private static void VaryByLanguage(TestCache cache)
        => cache.Stub.Default = r => StubResponse.Ok("lang " + r.Header("Accept-Language")).WithHeader("Vary", "Accept-Language");

    private static Action<HttpRequestMessage> Language(string value) => r => r.Headers.Add("Accept-Language", value);

    // ----- Listing -----------------------------------------------------------------------------------------------

    [Test]
    public async Task GetEntriesAsync_StoredResponses_ListEveryMetadataField()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/a?x=1", expiresAt: Now.AddHours(1), body: "hello"));
        cache.Time.Advance(TimeSpan.FromMinutes(5));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/b", status: 404, method: "POST", body: ""), cache.KeyOf("https://example.com/b", HttpMethod.Post));

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();

        entries.Should().HaveCount(2);
        var a = entries.Single(e => e.Url.AbsolutePath == "/a");
        a.Key.Should().Be(cache.KeyOf("https://example.com/a?x=1"));
        a.Url.Should().Be(new Uri("https://example.com/a?x=1"));
        a.Method.Should().Be("GET");
        a.StatusCode.Should().Be(HttpStatusCode.OK);
        a.BodySize.Should().Be(5);
        a.StoredSize.Should().Be((await cache.Backend.Responses.ReadAsync(a.Key))!.Length);
        a.CreatedAt.Should().Be(Now);
        a.ExpiresAt.Should().Be(Now.AddHours(1));
        a.DeleteAfter.Should().BeOneOf(null, Now.AddHours(1));
        a.VaryValues.Should().BeEmpty();
        var b = entries.Single(e => e.Url.AbsolutePath == "/b");
        b.Method.Should().Be("POST");
        b.StatusCode.Should().Be(HttpStatusCode.NotFound);
        b.BodySize.Should().Be(0);
        b.CreatedAt.Should().Be(Now);
        b.ExpiresAt.Should().BeNull();
    }

    [Test]
    public async Task GetEntriesAsync_Filter_ListsOnlyMatches()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/api/old", expiresAt: Now.AddMinutes(1), etag: "\"o\"", createdAt: Now.AddHours(-3)));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/api/new", expiresAt: Now.AddHours(1)));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/web/missing", status: 404));
        cache.Time.Advance(TimeSpan.FromMinutes(2));

        async Task<string[]> Paths(CacheEntryFilter filter)
            => (await cache.Backend.GetEntriesAsync(filter).ToListAsync()).Select(e => e.Url.AbsolutePath).Order(StringComparer.Ordinal).ToArray();

        (await Paths(new CacheEntryFilter { Expired = true })).Should().Equal("/api/old");
        (await Paths(new CacheEntryFilter { Expired = false })).Should().Equal("/api/new", "/web/missing");
        (await Paths(new CacheEntryFilter { OlderThan = TimeSpan.FromHours(1) })).Should().Equal("/api/old");
        (await Paths(new CacheEntryFilter { CreatedBefore = Now })).Should().Equal("/api/old");
        (await Paths(new CacheEntryFilter { UrlPattern = "example.com/api/*" })).Should().Equal("/api/new", "/api/old");
        (await Paths(new CacheEntryFilter { StatusCodes = [404] })).Should().Equal("/web/missing");
        (await Paths(new CacheEntryFilter { Methods = ["post"] })).Should().BeEmpty();
        (await Paths(new CacheEntryFilter { Predicate = e => e.Url.AbsolutePath.EndsWith("new", StringComparison.Ordinal) })).Should().Equal("/api/new");
        (await Paths(new CacheEntryFilter { UrlPattern = "*/api/*", Expired = false })).Should().Equal("/api/new");
        (await cache.Backend.CountAsync(new CacheEntryFilter { UrlPattern = "example.com/api" })).Should().Be(2);
        (await cache.Backend.CountAsync(CacheEntryFilter.All)).Should().Be(3);
    }

    [Test]
    public async Task GetEntriesAsync_VaryVariants_ListsEachVariantButNotTheIndex()
    {
        using var cache = new TestCache();
        VaryByLanguage(cache);
        await cache.GetAsync("https://example.com/v", Language("en"));
        await cache.GetAsync("https://example.com/v", Language("fr"));

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();

        (await cache.Backend.Responses.CountAsync()).Should().Be(3, "an index and two variants");
        entries.Should().HaveCount(2);
        entries.Should().OnlyContain(e => e.Url == new Uri("https://example.com/v") && e.Key != cache.KeyOf("https://example.com/v"));
        entries.Select(e => e.VaryValues.GetValue("accept-language")).Should().BeEquivalentTo(["en", "fr"]);
        entries.Select(e => e.Key).Should().OnlyHaveUniqueItems();
    }

    [Test]
    public async Task GetEntriesAsync_RedirectAliases_AreNotListed()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Stub.Respond("https://example.com/start", StubResponse.Redirect("/end"));
        await cache.GetAsync("https://example.com/start");

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();

        (await cache.Backend.Redirects.CountAsync()).Should().BeGreaterThan(0);
        entries.Should().ContainSingle().Which.Url.Should().Be(new Uri("https://example.com/end"));
    }

    [Test]
    public async Task GetEntriesAsync_UndecodableValues_AreSkippedAndCountedAsUnreadable()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/good"));
        var valid = await cache.Backend.Responses.ReadAsync(cache.KeyOf("https://example.com/good"));
        var truncated = valid![..^3];
        var newerVersion = (byte[])valid.Clone();
        newerVersion[3] = 9;
        var badLength = (byte[])valid.Clone();
        badLength[22]++;
        await cache.Backend.Responses.WriteAsync("garbage", new byte[] { 1, 2, 3 });
        await cache.Backend.Responses.WriteAsync("empty", Array.Empty<byte>());
        await cache.Backend.Responses.WriteAsync("truncated", truncated);
        await cache.Backend.Responses.WriteAsync("version", newerVersion);
        await cache.Backend.Responses.WriteAsync("length", badLength);
        await cache.Backend.Responses.WriteAsync("json", Encoding.UTF8.GetBytes("CHC\u0001\0\0\u0002\0\0\0{}"));

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();
        var statistics = await cache.Backend.GetStatisticsAsync();

        entries.Should().ContainSingle().Which.Url.AbsolutePath.Should().Be("/good");
        statistics.ResponseCount.Should().Be(1);
        statistics.UnreadableCount.Should().Be(6);
        (await cache.Backend.DeleteAsync(CacheEntryFilter.All)).Should().Be(1, "unreadable values are never matched");
        (await cache.Backend.Responses.CountAsync()).Should().Be(6);
    }

    [Test]
    public async Task GetEntriesAsync_LargeBody_ReadsOnlyTheHeadOfEachValue()
    {
        var responses = new CountingStore(new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Now));
        using var cache = WithStores(responses);
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/big", body: new string('x', 300_000)));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/small"));
        var readsBefore = responses.Reads;

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();

        entries.Single(e => e.Url.AbsolutePath == "/big").BodySize.Should().Be(300_000);
        responses.Reads.Should().Be(readsBefore, "the metadata of both is within the head of the value");
    }

    [Test]
    public async Task GetEntriesAsync_MetadataBeyondTheHead_ReadsThatValueWhole()
    {
        var responses = new PrefixCountingStore();
        using var cache = WithStores(responses);
        var headers = new CachedHeaders(Enumerable.Range(0, 400).Select(i => new KeyValuePair<string, string[]>("X-Header-" + i, [new string('h', 60)])));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/headers", body: new string('b', 50_000)) with { Headers = headers });
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/plain", body: new string('b', 50_000)));
        var readsBefore = responses.Reads;

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();

        entries.Select(e => e.Url.AbsolutePath).Should().BeEquivalentTo(["/headers", "/plain"]);
        entries.Should().OnlyContain(e => e.BodySize == 50_000);
        responses.Reads.Should().Be(readsBefore + 1, "only the entry whose metadata is larger than the head is read whole");
    }

    [Test]
    public async Task GetEntriesAsync_CompressedBody_ReportsUncompressedBodySize()
    {
        using var cache = new TestCache(o => o.Serializer.Compression = CacheCompression.Brotli);
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/text", body: new string('a', 100_000)));

        var entry = (await cache.Backend.GetEntriesAsync().ToListAsync()).Single();

        entry.BodySize.Should().Be(100_000);
        entry.StoredSize.Should().BeLessThan(10_000);
    }

    [TestCase(false, 100)]
    [TestCase(false, 200_000)]
    [TestCase(true, 100)]
    [TestCase(true, 200_000)]
    public async Task GetEntriesAsync_EncryptedOrSignedBackend_ListsMetadata(bool encrypt, int bodySize)
    {
        using var cache = new TestCache(encrypt ? Encrypted : Signed);
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/secret", expiresAt: Now.AddHours(1), body: new string('s', bodySize)));

        var entry = (await cache.Backend.GetEntriesAsync().ToListAsync()).Single();

        entry.Url.Should().Be(new Uri("https://example.com/secret"));
        entry.BodySize.Should().Be(bodySize);
        entry.ExpiresAt.Should().Be(Now.AddHours(1));
        (await cache.Backend.GetStatisticsAsync()).UnreadableCount.Should().Be(0);
    }

    [Test]
    public async Task GetEntriesAsync_EncryptedBigBody_ReadsItWhole()
    {
        var responses = new PrefixCountingStore();
        using var cache = WithStores(responses, configure: Encrypted);
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/huge", body: new string('s', 1_500_000)));
        var readsBefore = responses.Reads;

        var entry = (await cache.Backend.GetEntriesAsync().ToListAsync()).Single();

        entry.BodySize.Should().Be(1_500_000);
        responses.Reads.Should().Be(readsBefore + 1, "encrypted metadata can be read only from the whole value");
    }

    [TestCase("other-encryption-key")]
    [TestCase("other-signing-key")]
    [TestCase("unprotected-entry")]
    public async Task GetEntriesAsync_EntryThatTheseOptionsCannotRead_IsSkipped(string kind)
    {
        var shared = new InMemoryCache();
        var redirects = new InMemoryCache();
        Action<CacheOptions> writer = kind switch
        {
            "other-encryption-key" => o => o.Serializer.EncryptionKeys = [Key32(9)],
            "other-signing-key" => o => o.Serializer.SigningKeys = [Key32(9)],
            _ => _ => { }
            ,
        };
        var writerOptions = new CacheOptions();
        writer(writerOptions);
        var writing = new CacheBackend(shared, redirects, writerOptions);
        await writing.SaveResponseAsync(Stored("https://example.com/small"));
        await writing.SaveResponseAsync(Stored("https://example.com/large", body: new string('l', 100_000)));

        using var reading = WithStores(shared, redirects, kind == "other-signing-key" || kind == "unprotected-entry" ? Signed : Encrypted);

        (await reading.Backend.GetEntriesAsync().ToListAsync()).Should().BeEmpty();
        (await reading.Backend.GetStatisticsAsync()).UnreadableCount.Should().Be(2);
    }

    [Test]
    public async Task GetEntriesAsync_TamperedSignedEntry_IsListedButNeverServed()
    {
        using var cache = WithStores(new PrefixCountingStore(), configure: Signed);
        var key = await cache.Backend.SaveResponseAsync(Stored("https://example.com/a", body: new string('a', 100_000)));
        var bytes = (await cache.Backend.Responses.ReadAsync(key))!;
        var json = Encoding.UTF8.GetBytes("\"Status\":200");
        var at = bytes.AsSpan().IndexOf(json);
        Encoding.UTF8.GetBytes("\"Status\":201").CopyTo(bytes, at);
        await cache.Backend.Responses.WriteAsync(key, bytes);

        var entry = (await cache.Backend.GetEntriesAsync().ToListAsync()).Single();

        entry.StatusCode.Should().Be((HttpStatusCode)201, "a listing reads the metadata of a large entry without checking its signature");
        (await cache.Backend.GetResponseAsync(key)).Should().BeNull("serving always checks the signature");
    }

    [Test]
    public async Task GetEntriesAsync_Cancelled_Throws()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/a"));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await FluentActions.Awaiting(async () => await cache.Backend.GetEntriesAsync(null, cancelled.Token).ToListAsync())
            .Should().ThrowAsync<OperationCanceledException>();
    }

    [Test]
    public async Task GetUrlsAsync_StillListsEachUrlOnce()
    {
        using var cache = new TestCache();
        VaryByLanguage(cache);
        await cache.GetAsync("https://example.com/v", Language("en"));
        await cache.GetAsync("https://example.com/v", Language("fr"));

        (await cache.Backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://example.com/v");
    }

    [Test]
    public async Task Listing_StorageThatReturnsNoHead_ReadsValuesWholeInsteadOfSkippingThem()
    {
        using var cache = WithStores(new HeadlessStore());
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/a", expiresAt: Now.AddMinutes(1), etag: "\"a\""));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/b", body: new string('b', 50_000)));
        cache.Time.Advance(TimeSpan.FromMinutes(2));

        (await cache.Backend.GetEntriesAsync().ToListAsync()).Should().HaveCount(2);
        (await cache.Backend.GetStatisticsAsync()).UnreadableCount.Should().Be(0);
        (await cache.Backend.DeleteExpiredResponsesAsync()).Should().Be(1);
        (await cache.Backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://example.com/b");
    }

    [Test]
    public async Task DeleteExpiredResponsesAsync_LargeBodies_ReadsOnlyHeads()
    {
        var responses = new CountingStore(new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Now));
        using var cache = WithStores(responses);
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/old", expiresAt: Now.AddMinutes(1), etag: "\"o\"", body: new string('o', 200_000)) with { AliasKeys = [cache.KeyOf("https://example.com/hop")] });
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/new", expiresAt: Now.AddHours(1), body: new string('n', 200_000)));
        cache.Time.Advance(TimeSpan.FromMinutes(2));
        var readsBefore = responses.Reads;

        (await cache.Backend.DeleteExpiredResponsesAsync()).Should().Be(1);

        responses.Reads.Should().Be(readsBefore);
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0, "the alias of the expired response is found in its head");
        (await cache.Backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://example.com/new");
    }

    // ----- Deleting ----------------------------------------------------------------------------------------------

    [Test]
    public async Task DeleteAsync_Filter_DeletesMatchesAndTheirAliasesOnly()
    {
        using var cache = new TestCache(o => o.AllowedCodes = new HashSet<int> { 200, 404 }, followRedirects: true);
        cache.Stub.Respond("https://example.com/start", StubResponse.Redirect("/api/end"));
        cache.Stub.Respond("https://example.com/api/gone", StubResponse.WithStatus(HttpStatusCode.NotFound));
        await cache.GetAsync("https://example.com/start");
        await cache.GetAsync("https://example.com/api/gone");
        await cache.GetAsync("https://example.com/web/page");

        var deleted = await cache.Backend.DeleteAsync(new CacheEntryFilter { UrlPattern = "example.com/api/*", StatusCodes = [200] });

        deleted.Should().Be(1);
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0, "the alias of the deleted response goes with it");
        (await cache.Backend.GetUrlsAsync().ToListAsync()).Should().BeEquivalentTo(["https://example.com/api/gone", "https://example.com/web/page"]);
        var (again, _) = await cache.GetAsync("https://example.com/start");
        again.IsFromCache().Should().BeFalse();
    }

    [Test]
    public async Task DeleteAsync_SomeVariantsMatch_KeepsTheIndexAndTheOtherVariants()
    {
        using var cache = new TestCache(followRedirects: true);
        VaryByLanguage(cache);
        cache.Stub.Respond("https://example.com/hop", StubResponse.Redirect("/v"));
        await cache.GetAsync("https://example.com/hop", Language("en"));
        await cache.GetAsync("https://example.com/hop", Language("fr"));

        var deleted = await cache.Backend.DeleteWhereAsync(e => e.VaryValues.GetValue("accept-language") == "fr");

        deleted.Should().Be(1);
        var (en, enBody) = await cache.GetAsync("https://example.com/v", Language("en"));
        en.IsFromCache().Should().BeTrue("the index and the alias of the hop still lead to the English variant");
        enBody.Should().Be("lang en");
        var (fr, _) = await cache.GetAsync("https://example.com/hop", Language("fr"));
        fr.IsFromCache().Should().BeFalse();
    }

    [Test]
    public async Task DeleteAsync_EveryVariantMatches_DeletesTheIndexAndTheAliases()
    {
        using var cache = new TestCache(followRedirects: true);
        VaryByLanguage(cache);
        cache.Stub.Respond("https://example.com/hop", StubResponse.Redirect("/v"));
        await cache.GetAsync("https://example.com/hop", Language("en"));
        await cache.GetAsync("https://example.com/hop", Language("fr"));
        await cache.GetAsync("https://example.com/other", Language("fr"));

        var deleted = await cache.Backend.DeleteAsync(new CacheEntryFilter { UrlPattern = "example.com/v" });

        deleted.Should().Be(2);
        (await cache.Backend.Responses.CountAsync()).Should().Be(2, "the other URL's index and variant stay; /v's index is gone");
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteAsync_ManyEntries_DeletesInBatchesOfAtMost500()
    {
        var responses = new BatchRecordingStore();
        using var cache = WithStores(responses);
        for (var i = 0; i < 1200; i++)
        {
            await cache.Backend.SaveResponseAsync(Stored($"https://example.com/item/{i}"));
        }

        var deleted = await cache.Backend.DeleteAsync(new CacheEntryFilter { UrlPattern = "example.com/item/" });

        deleted.Should().Be(1200);
        responses.Batches.Should().Equal(500, 500, 200);
        (await cache.Backend.Responses.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteOlderThanAsync_DeletesOnlyResponsesStoredBeforeTheAge()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/old", expiresAt: Now.AddDays(30)));
        cache.Time.Advance(TimeSpan.FromHours(2));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/new", createdAt: cache.Time.GetUtcNow()));
        cache.Time.Advance(TimeSpan.FromMinutes(30));

        (await cache.Backend.DeleteOlderThanAsync(TimeSpan.FromHours(1))).Should().Be(1);

        (await cache.Backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://example.com/new");
    }

    [Test]
    public async Task DeleteUrlsAsync_SeveralUrls_DeletesThemAndCountsThoseStored()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a?x=1&y=2");
        await cache.GetAsync("https://example.com/b");
        await cache.GetAsync("https://example.com/c");
        (await cache.SendAsync(HttpMethod.Head, "https://example.com/c")).Dispose();

        var deleted = await cache.Backend.DeleteUrlsAsync(["https://example.com/a?y=2&x=1", "https://example.com/b", "https://example.com/never-stored"]);

        deleted.Should().Be(2);
        (await cache.Backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://example.com/c");
        (await cache.Backend.DeleteUrlsAsync(["https://example.com/c"], HttpMethod.Head)).Should().Be(1);
        (await cache.Backend.HasUrlAsync("https://example.com/c")).Should().BeTrue("only HEAD was deleted");
    }

    [Test]
    public async Task DeleteUrlsAsync_VaryUrl_DeletesEveryVariant()
    {
        using var cache = new TestCache();
        VaryByLanguage(cache);
        await cache.GetAsync("https://example.com/v", Language("en"));
        await cache.GetAsync("https://example.com/v", Language("fr"));

        (await cache.Backend.DeleteUrlsAsync(["https://example.com/v"])).Should().Be(1);

        (await cache.Backend.Responses.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteUrlsAsync_ManyUrls_DeletesInBatches()
    {
        var responses = new BatchRecordingStore();
        using var cache = WithStores(responses);
        var urls = Enumerable.Range(0, 1100).Select(i => $"https://example.com/u/{i}").ToList();
        foreach (var url in urls)
        {
            await cache.Backend.SaveResponseAsync(Stored(url));
        }

        (await cache.Backend.DeleteUrlsAsync(urls)).Should().Be(1100);

        responses.Batches.Should().HaveCount(3).And.OnlyContain(size => size <= 500);
    }

    [TestCase("/relative")]
    [TestCase("ftp://example.com/file")]
    [TestCase("")]
    [TestCase(null)]
    public async Task DeleteUrlsAsync_BadUrl_ThrowsNamingUrls_AndDeletesNothing(string? bad)
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a");

        await FluentActions.Awaiting(() => cache.Backend.DeleteUrlsAsync(["https://example.com/a", bad!]).AsTask())
            .Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "urls");

        (await cache.Backend.HasUrlAsync("https://example.com/a")).Should().BeTrue();
    }

    [Test]
    public async Task DeleteRequestsAsync_KeysEachRequestAsTheHandlerDoes()
    {
        using var cache = new TestCache(o => o.AllowedMethods = new HashSet<string>(["GET", "POST"], StringComparer.OrdinalIgnoreCase));
        (await cache.SendAsync(HttpMethod.Post, "https://example.com/search", r => r.Content = new StringContent("{\"q\":1}", Encoding.UTF8, "application/json"))).Dispose();
        (await cache.SendAsync(HttpMethod.Post, "https://example.com/search", r => r.Content = new StringContent("{\"q\":2}", Encoding.UTF8, "application/json"))).Dispose();
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://example.com/search") { Content = new StringContent("{\"q\":1}", Encoding.UTF8, "application/json") };
        using var unknown = new HttpRequestMessage(HttpMethod.Get, "https://example.com/unknown");

        (await cache.Backend.DeleteRequestsAsync([request, unknown])).Should().Be(1);

        (await cache.Backend.CountAsync(CacheEntryFilter.All)).Should().Be(1);
    }

    [Test]
    public async Task DeleteRequestsAsync_NullOrRelativeRequest_ThrowsNamingRequests()
    {
        using var backend = new CacheBackend();
        using var relative = new HttpRequestMessage(HttpMethod.Get, "/relative");

        await FluentActions.Awaiting(() => backend.DeleteRequestsAsync([null!]).AsTask()).Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "requests");
        await FluentActions.Awaiting(() => backend.DeleteRequestsAsync([relative]).AsTask()).Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "requests");
        await FluentActions.Awaiting(() => backend.DeleteRequestsAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "requests");
    }

    [Test]
    public async Task ManagementMethods_NullOrNegativeArguments_ThrowNamingThem()
    {
        using var backend = new CacheBackend();

        await FluentActions.Awaiting(() => backend.DeleteAsync((CacheEntryFilter)null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "filter");
        await FluentActions.Awaiting(() => backend.CountAsync((CacheEntryFilter)null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "filter");
        await FluentActions.Awaiting(() => backend.DeleteWhereAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "predicate");
        await FluentActions.Awaiting(() => backend.DeleteUrlsAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "urls");
        await FluentActions.Awaiting(() => backend.DeleteOlderThanAsync(TimeSpan.FromTicks(-1)).AsTask()).Should().ThrowAsync<ArgumentOutOfRangeException>().Where(e => e.ParamName == "age");
        await FluentActions.Awaiting(() => backend.ResetExpirationAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>().Where(e => e.ParamName == "expireAfter");
        await FluentActions.Awaiting(() => backend.ResetExpirationAsync(Expiration.DoNotCache).AsTask()).Should().ThrowAsync<ArgumentException>().Where(e => e.ParamName == "expireAfter");
    }

    // ----- Resetting expiration ----------------------------------------------------------------------------------

    [Test]
    public async Task ResetExpirationAsync_ExpiredEntries_AreFreshAgainFromNow()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        await cache.GetAsync("https://example.com/b", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        cache.Time.Advance(TimeSpan.FromSeconds(50));

        var updated = await cache.Backend.ResetExpirationAsync(TimeSpan.FromHours(1));

        updated.Should().Be(2);
        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();
        entries.Should().OnlyContain(e => e.ExpiresAt == Now.AddSeconds(50).AddHours(1) && e.CreatedAt == Now);
        cache.Time.Advance(TimeSpan.FromMinutes(30));
        var (hit, body) = await cache.GetAsync("https://example.com/a");
        hit.IsFromCache().Should().BeTrue("the storage delete-after time moved with the expiry");
        body.Should().Be("body of https://example.com/a");
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task ResetExpirationAsync_NeverAndImmediately_SetNoExpiryOrExpireNow()
    {
        using var cache = new TestCache();
        cache.Stub.Respond("https://example.com/etag", StubResponse.Ok("e").WithHeader("ETag", "\"e\""));
        await cache.GetAsync("https://example.com/a", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        await cache.GetAsync("https://example.com/etag", r => r.SetExpireAfter(TimeSpan.FromHours(1)));

        (await cache.Backend.ResetExpirationAsync(Expiration.Never, new CacheEntryFilter { UrlPattern = "example.com/a" })).Should().Be(1);
        (await cache.Backend.ResetExpirationAsync(Expiration.ExpireImmediately, new CacheEntryFilter { UrlPattern = "example.com/etag" })).Should().Be(1);

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();
        entries.Single(e => e.Url.AbsolutePath == "/a").ExpiresAt.Should().BeNull();
        entries.Single(e => e.Url.AbsolutePath == "/etag").IsExpired(cache.Time.GetUtcNow()).Should().BeTrue();
        cache.Time.Advance(TimeSpan.FromDays(3));
        (await cache.GetAsync("https://example.com/a")).Response.IsFromCache().Should().BeTrue();
    }

    [Test]
    public async Task ResetExpirationAsync_InstantAndFilter_ChangesOnlyMatches()
    {
        using var cache = new TestCache();
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/api/1", expiresAt: Now.AddMinutes(5)));
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/web/1", expiresAt: Now.AddMinutes(5)));
        var at = Now.AddDays(2);

        (await cache.Backend.ResetExpirationAsync(at, new CacheEntryFilter { UrlPattern = "*/api/*" })).Should().Be(1);

        var entries = await cache.Backend.GetEntriesAsync().ToListAsync();
        entries.Single(e => e.Url.AbsolutePath == "/api/1").ExpiresAt.Should().Be(at);
        entries.Single(e => e.Url.AbsolutePath == "/web/1").ExpiresAt.Should().Be(Now.AddMinutes(5));
    }

    [Test]
    public async Task ResetExpirationAsync_RedirectAlias_LivesAsLongAsTheResponse()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Stub.Respond("https://example.com/start", StubResponse.Redirect("/end"));
        await cache.GetAsync("https://example.com/start", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));

        await cache.Backend.ResetExpirationAsync(TimeSpan.FromHours(1));
        cache.Time.Advance(TimeSpan.FromMinutes(30));

        var (hit, _) = await cache.GetAsync("https://example.com/start");
        var (viaAlias, _) = await cache.GetAsync("https://example.com/end");
        hit.IsFromCache().Should().BeTrue();
        viaAlias.IsFromCache().Should().BeTrue("the alias got the response's new delete-after time");
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task ResetExpirationAsync_VaryVariants_StaySelectableBeyondTheirOldDeleteAfter()
    {
        using var cache = new TestCache();
        VaryByLanguage(cache);
        await cache.GetAsync("https://example.com/v", r => { Language("en")(r); r.SetExpireAfter(TimeSpan.FromMinutes(1)); });
        await cache.GetAsync("https://example.com/v", r => { Language("fr")(r); r.SetExpireAfter(TimeSpan.FromMinutes(1)); });

        (await cache.Backend.ResetExpirationAsync(TimeSpan.FromHours(1))).Should().Be(2);
        cache.Time.Advance(TimeSpan.FromMinutes(30));

        var (en, enBody) = await cache.GetAsync("https://example.com/v", Language("en"));
        var (fr, frBody) = await cache.GetAsync("https://example.com/v", Language("fr"));
        en.IsFromCache().Should().BeTrue();
        fr.IsFromCache().Should().BeTrue();
        (enBody, frBody).Should().Be(("lang en", "lang fr"));
        (await cache.Backend.GetStatisticsAsync()).VaryIndexCount.Should().Be(1);
    }

    [Test]
    public async Task ResetExpirationAsync_DeleteAfter_KeepsTheStaleWindowsTheHandlerWouldPlan()
    {
        using var cache = new TestCache(o => o.CacheControl = true);
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/swr") with { Headers = new CachedHeaders([new("Cache-Control", ["max-age=60, stale-while-revalidate=600"])]) });
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/strict") with { Headers = new CachedHeaders([new("Cache-Control", ["max-age=60, must-revalidate"])]) });
        await cache.Backend.SaveResponseAsync(Stored("https://example.com/validated", etag: "\"v\""));

        (await cache.Backend.ResetExpirationAsync(TimeSpan.FromMinutes(1))).Should().Be(3);
        cache.Time.Advance(TimeSpan.FromMinutes(5));

        (await cache.Backend.Responses.ContainsAsync(cache.KeyOf("https://example.com/swr"))).Should().BeTrue("kept for its stale-while-revalidate window");
        (await cache.Backend.Responses.ContainsAsync(cache.KeyOf("https://example.com/strict"))).Should().BeFalse("must-revalidate without a validator: nothing to keep it for");
        (await cache.Backend.Responses.ContainsAsync(cache.KeyOf("https://example.com/validated"))).Should().BeTrue("kept for revalidation");
    }

    [Test]
    public async Task ResetExpirationAsync_EncryptedBackend_RewritesReadableEntries()
    {
        using var cache = new TestCache(Encrypted);
        await cache.GetAsync("https://example.com/a", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));

        (await cache.Backend.ResetExpirationAsync(TimeSpan.FromHours(1))).Should().Be(1);
        cache.Time.Advance(TimeSpan.FromMinutes(10));

        var (hit, body) = await cache.GetAsync("https://example.com/a");
        hit.IsFromCache().Should().BeTrue();
        body.Should().Be("body of https://example.com/a");
    }

    // ----- Statistics --------------------------------------------------------------------------------------------

    [Test]
    public async Task GetStatisticsAsync_MixedCache_CountsEveryKindAndSumsBytes()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Stub.Respond("https://example.com/start", StubResponse.Redirect("/end"));
        VaryByLanguage(cache);
        cache.Stub.Respond("https://example.com/end", StubResponse.Ok("end").WithHeader("ETag", "\"e\""));
        await cache.GetAsync("https://example.com/start", r => r.SetExpireAfter(TimeSpan.FromMinutes(1)));
        cache.Time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync("https://example.com/v", Language("en"));
        await cache.GetAsync("https://example.com/v", Language("fr"));
        await cache.Backend.Responses.WriteAsync("corrupt", new byte[] { 1, 2, 3, 4 });

        var statistics = await cache.Backend.GetStatisticsAsync();

        statistics.Backend.Should().Be("memory");
        statistics.ResponseCount.Should().Be(3);
        statistics.ExpiredCount.Should().Be(1);
        statistics.VaryIndexCount.Should().Be(1);
        statistics.RedirectCount.Should().Be(1);
        statistics.UnreadableCount.Should().Be(1);
        statistics.BodyBytes.Should().Be("end".Length + "lang en".Length + "lang fr".Length);
        statistics.ResponseBytes.Should().Be(await cache.Backend.Responses.GetTotalBytesAsync());
        statistics.RedirectBytes.Should().Be(await cache.Backend.Redirects.GetTotalBytesAsync()).And.BeGreaterThan(0);
        statistics.TotalBytes.Should().Be(statistics.ResponseBytes + statistics.RedirectBytes);
        statistics.OldestCreatedAt.Should().Be(Now);
        statistics.NewestCreatedAt.Should().Be(Now.AddMinutes(5));
    }

    [Test]
    public async Task GetStatisticsAsync_EmptyCache_IsAllZero()
    {
        using var backend = new CacheBackend();

        var statistics = await backend.GetStatisticsAsync();

        statistics.Should().BeEquivalentTo(new CacheStatistics { Backend = "memory" });
    }

    /// <summary>A counting store that gives listings exactly the head asked for, as a storage that can read a prefix does.</summary>
    private sealed class PrefixCountingStore : InMemoryCache
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _reads);
            return base.ReadAsync(key, cancellationToken);
        }

        public override IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, CancellationToken cancellationToken = default)
            => base.GetEntryInfosAsync(headBytes, cancellationToken);
    }

    /// <summary>An in-memory store whose listing of entry infos gives no head (as a storage that cannot read a prefix might).</summary>
    private sealed class HeadlessStore : InMemoryCache
    {
        public override async IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var info in base.GetEntryInfosAsync(0, cancellationToken))
            {
                yield return info;
            }
        }
    }

    /// <summary>An in-memory store that records the size of each bulk delete.</summary>
    private sealed class BatchRecordingStore : InMemoryCache
    {
        private readonly ConcurrentQueue<int> _batches = new();

        public IReadOnlyList<int> Batches => [.. _batches];

        public override ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
        {
            var list = keys.ToList();
            _batches.Enqueue(list.Count);
            return base.DeleteManyAsync(list, cancellationToken);
        }
    }
}
