using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace CachedHttp.Testing;

/// <summary>
/// The end-to-end behaviours every <see cref="CacheBackend"/> must show over real sockets, against a real
/// Kestrel <see cref="TestOrigin"/>: the tests of the original library, in .NET form. Subclass it once per backend,
/// implement <see cref="CreateBackendAsync"/> and add <c>[TestFixture]</c>.
/// </summary>
/// <remarks>
/// A backend that needs a server it cannot reach should call <see cref="Assert.Ignore(string)"/> from
/// <see cref="CreateBackendAsync"/> with the reason.
/// </remarks>
public abstract class CacheBackendContractTests
{
    private readonly List<IAsyncDisposable> _disposables = [];

    /// <summary>Gets the origin shared by the fixture's tests.</summary>
    protected TestOrigin Origin { get; private set; } = null!;

    /// <summary>Gets the fake clock of the current test (start: 2026-01-01 UTC).</summary>
    protected FakeTimeProvider Time { get; private set; } = null!;

    /// <summary>Creates a new, empty backend with the given options.</summary>
    /// <param name="options">The options (with this test's fake clock).</param>
    /// <param name="name">A name unique to this test (a file, table, prefix or database name can be derived from it).</param>
    protected abstract ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name);

    /// <summary>Starts the origin.</summary>
    [OneTimeSetUp]
    public async Task StartOrigin() => Origin = await TestOrigin.StartAsync();

    /// <summary>Stops the origin.</summary>
    [OneTimeTearDown]
    public async Task StopOrigin() => await Origin.DisposeAsync();

    /// <summary>Gives each test a fresh clock.</summary>
    [SetUp]
    public void ResetClock() => Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Disposes what the test created.</summary>
    [TearDown]
    public async Task DisposeAll()
    {
        // Clear first: disposing a session disposes an AutoClose backend (SQLite, files).
        foreach (var backend in _disposables.OfType<CacheBackend>())
        {
            try
            {
                await backend.ClearAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                TestContext.Out.WriteLine($"Clear after test failed: {ex.Message}");
            }
        }

        for (var i = _disposables.Count - 1; i >= 0; i--)
        {
            await _disposables[i].DisposeAsync();
        }

        _disposables.Clear();
    }

    /// <summary>Creates a session over a new backend with the given option changes.</summary>
    protected async Task<CachedSession> NewSessionAsync(Action<CacheOptions>? configure = null)
    {
        var options = new CacheOptions { TimeProvider = Time };
        configure?.Invoke(options);
        var backend = await CreateBackendAsync(options, "c" + Guid.NewGuid().ToString("N")[..12]);
        _disposables.Add(backend);
        var session = new CachedSession(backend) { BaseAddress = Origin.BaseAddress };
        _disposables.Add(session);
        return session;
    }

    private static string Unique() => Guid.NewGuid().ToString("N")[..10];

    /// <summary>Every method × query / form / JSON request gets its own key and hits on repeat.</summary>
    [Test]
    public async Task AllMethods_WithQueryFormAndJson_GetDistinctKeys_AndHitOnRepeat()
    {
        string[] methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        var session = await NewSessionAsync(o => o.AllowedMethods = new HashSet<string>(methods, StringComparer.OrdinalIgnoreCase));
        var keys = new HashSet<string>();
        var path = "/echo/" + Unique();
        foreach (var method in methods)
        {
            for (var variant = 0; variant < 3; variant++)
            {
                for (var attempt = 0; attempt < 2; attempt++)
                {
                    using var request = new HttpRequestMessage(new HttpMethod(method), variant == 0 ? path + "?a=1&b=2" : path);
                    if (variant == 1)
                    {
                        request.Content = new FormUrlEncodedContent([new("a", "1"), new("b", "2")]);
                    }
                    else if (variant == 2)
                    {
                        request.Content = JsonContent.Create(new { a = 1, b = 2 });
                    }

                    using var response = await session.SendAsync(request);
                    Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                    var body = await response.Content.ReadAsStringAsync();
                    Assert.That(body, Does.Contain(method));
                    Assert.That(response.IsFromCache(), Is.EqualTo(attempt == 1), $"{method} variant {variant} attempt {attempt}");
                    keys.Add(response.GetCacheInfo().Key!);
                }
            }
        }

        Assert.That(keys, Has.Count.EqualTo(methods.Length * 3));
        Assert.That(Origin.Requests(path), Is.EqualTo(methods.Length * 3));
    }

    /// <summary>Ignored parameters are not part of the key.</summary>
    [Test]
    public async Task IgnoredParameters_AreNotPartOfTheKey()
    {
        var session = await NewSessionAsync(o => o.IgnoredParameters.Add("api_key"));
        var path = "/echo/" + Unique();
        using var first = await session.GetAsync(path + "?q=1&api_key=secret-1");
        using var second = await session.GetAsync(path + "?api_key=secret-2&q=1");
        using var third = await session.GetAsync(path + "?q=2&api_key=secret-1");
        Assert.That(second.IsFromCache(), Is.True);
        Assert.That(third.IsFromCache(), Is.False);
        Assert.That(Origin.Requests(path), Is.EqualTo(2));
    }

    /// <summary>500 distinct URLs requested at once are all stored and all hit afterwards.</summary>
    [Test]
    public async Task FiveHundredConcurrentUrls_AreAllStored()
    {
        var session = await NewSessionAsync();
        var prefix = "/bytes/64?seed=";
        var run = Unique().GetHashCode(StringComparison.Ordinal) & 0xFFFF;
        var urls = Enumerable.Range(0, 500).Select(i => $"{prefix}{run}{i:D3}").ToList();
        await Task.WhenAll(urls.Select(async url =>
        {
            using var response = await session.GetAsync(url);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }));
        var before = Origin.TotalRequests;
        var hits = await Task.WhenAll(urls.Select(async url =>
        {
            using var response = await session.GetAsync(url);
            return response.IsFromCache();
        }));
        Assert.That(hits, Is.All.True);
        Assert.That(Origin.TotalRequests, Is.EqualTo(before));
        Assert.That(await session.Cache.CountAsync(), Is.GreaterThanOrEqualTo(500));
    }

    /// <summary>Redirects of 1–4 hops: the final response is stored once and every hop's URL is a hit.</summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    public async Task Redirects_EveryHopUrl_IsAHit(int hops)
    {
        var session = await NewSessionAsync();
        var tag = "?t=" + Unique();
        using (var response = await session.GetAsync($"/redirect/{hops}{tag}"))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.IsFromCache(), Is.False);
        }

        var before = Origin.TotalRequests;
        for (var hop = hops; hop >= 0; hop--)
        {
            using var response = await session.GetAsync($"/redirect/{hop}{tag}");
            Assert.That(response.IsFromCache(), Is.True, $"hop {hop}");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        Assert.That(Origin.TotalRequests, Is.EqualTo(before));
    }

    /// <summary>A per-request expiration expires the entry at its time, and is not sent to the origin.</summary>
    [Test]
    public async Task PerRequestExpiration_ExpiresTheEntry()
    {
        var session = await NewSessionAsync();
        var path = "/echo/" + Unique();
        using (var response = await session.GetAsync(path, TimeSpan.FromMinutes(1)))
        {
            Assert.That(response.GetCacheInfo().ExpiresAt, Is.EqualTo(Time.GetUtcNow().AddMinutes(1)));
            var echoed = await response.Content.ReadAsStringAsync();
            Assert.That(echoed, Does.Not.Contain("CachedHttp"));
        }

        Time.Advance(TimeSpan.FromSeconds(59));
        using (var response = await session.GetAsync(path))
        {
            Assert.That(response.IsFromCache(), Is.True);
        }

        Time.Advance(TimeSpan.FromSeconds(2));
        using (var response = await session.GetAsync(path))
        {
            Assert.That(response.IsFromCache(), Is.False);
        }

        Assert.That(Origin.Requests(path), Is.EqualTo(2));
    }

    /// <summary>Deleting expired responses removes only the expired ones.</summary>
    [Test]
    public async Task DeleteExpiredResponses_RemovesOnlyExpired()
    {
        var session = await NewSessionAsync();
        var shortPath = "/echo/" + Unique();
        var longPath = "/echo/" + Unique();
        (await session.GetAsync(shortPath, TimeSpan.FromSeconds(10))).Dispose();
        (await session.GetAsync(longPath, TimeSpan.FromHours(1))).Dispose();
        Time.Advance(TimeSpan.FromMinutes(1));
        // The count may exclude entries a storage already expired natively; what is left is what matters.
        await session.Cache.DeleteExpiredResponsesAsync();
        Assert.That(await session.Cache.HasUrlAsync(Origin.Url(shortPath).AbsoluteUri), Is.False);
        Assert.That(await session.Cache.HasUrlAsync(Origin.Url(longPath).AbsoluteUri), Is.True);
        var urls = new List<string>();
        await foreach (var url in session.Cache.GetUrlsAsync())
        {
            urls.Add(url);
        }

        Assert.That(urls, Is.EquivalentTo(new[] { Origin.Url(longPath).AbsoluteUri }));
    }

    /// <summary>With IncludeHeaders, requests that differ in a header are stored apart.</summary>
    [Test]
    public async Task IncludeHeaders_DifferentHeaders_AreStoredApart()
    {
        var session = await NewSessionAsync(o => o.IncludeHeaders = true);
        var path = "/echo/" + Unique();
        foreach (var value in new[] { "one", "two", "one" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Flavor", value);
            using var response = await session.SendAsync(request);
            Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain(value));
        }

        Assert.That(Origin.Requests(path), Is.EqualTo(2));
    }

    /// <summary>A cached body can be read as a stream, fully and correctly.</summary>
    [Test]
    public async Task CachedBody_StreamsBackIntact()
    {
        var session = await NewSessionAsync();
        var url = $"/stream/300000?seed={Unique().Length}{Environment.TickCount & 0xFFF}";
        (await session.GetAsync(url, HttpCompletionOption.ResponseHeadersRead)).Dispose();
        using (var first = await session.GetAsync(url, HttpCompletionOption.ResponseHeadersRead))
        {
            // The first response was disposed unread: nothing may be stored from it.
            Assert.That(first.IsFromCache(), Is.False);
            await using var stream = await first.Content.ReadAsStreamAsync();
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
        }

        using var hit = await session.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(hit.IsFromCache(), Is.True);
        await using var body = await hit.Content.ReadAsStreamAsync();
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, 4096);
        var seed = int.Parse(url[(url.IndexOf('=', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(buffer.ToArray(), Is.EqualTo(TestOrigin.ExpectedBytes(300000, seed)));
    }

    /// <summary>Inside Disabled() nothing is read from or written to the cache.</summary>
    [Test]
    public async Task Disabled_NeitherReadsNorWrites()
    {
        var session = await NewSessionAsync();
        var path = "/echo/" + Unique();
        (await session.GetAsync(path)).Dispose();
        using (session.Disabled())
        {
            using var response = await session.GetAsync(path);
            Assert.That(response.IsFromCache(), Is.False);
            (await session.GetAsync(path + "/other")).Dispose();
        }

        Assert.That(await session.Cache.HasUrlAsync(Origin.Url(path + "/other").AbsoluteUri), Is.False);
        using var after = await session.GetAsync(path);
        Assert.That(after.IsFromCache(), Is.True);
        Assert.That(Origin.Requests(path), Is.EqualTo(2));
    }

    /// <summary>An expired entry with an ETag is revalidated: a 304 serves the stored body.</summary>
    [Test]
    public async Task Revalidation_NotModified_ServesStoredBody()
    {
        var session = await NewSessionAsync(o => o.ExpireAfter = Expiration.ExpireImmediately);
        var path = "/etag/" + Unique();
        string firstBody;
        using (var first = await session.GetAsync(path))
        {
            firstBody = await first.Content.ReadAsStringAsync();
        }

        using var second = await session.GetAsync(path);
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(second.GetCacheInfo().Status, Is.EqualTo(CacheStatus.Revalidated));
        Assert.That(await second.Content.ReadAsStringAsync(), Is.EqualTo(firstBody));
        Assert.That(Origin.NotModifiedCount(path), Is.EqualTo(1));
    }

    /// <summary>A conditional request answered with a changed ETag stores and serves the new body.</summary>
    [Test]
    public async Task Revalidation_ChangedETag_StoresNewBody()
    {
        var session = await NewSessionAsync(o => o.ExpireAfter = Expiration.ExpireImmediately);
        using var first = await session.GetAsync("/etag/rotating");
        var firstBody = await first.Content.ReadAsStringAsync();
        using var second = await session.GetAsync("/etag/rotating");
        var secondBody = await second.Content.ReadAsStringAsync();
        Assert.That(second.IsFromCache(), Is.False);
        Assert.That(secondBody, Is.Not.EqualTo(firstBody));
        var stored = await session.Cache.GetResponsesAsync().FirstAsync();
        Assert.That(Encoding.UTF8.GetString(stored.Body.Span), Is.EqualTo(secondBody));
    }

    /// <summary>100 identical concurrent requests reach the origin once.</summary>
    [Test]
    public async Task HundredIdenticalConcurrentRequests_ReachOriginOnce()
    {
        var session = await NewSessionAsync();
        var path = "/slow/" + (300 + (Environment.TickCount & 0xFF));
        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => session.GetAsync(path)));
        try
        {
            Assert.That(Origin.Requests(path), Is.EqualTo(1));
            Assert.That(responses.Distinct().Count(), Is.EqualTo(100));
            foreach (var response in responses)
            {
                Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("slow"));
            }
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    /// <summary>Sessions that are never disposed leave no request state behind in the backend.</summary>
    [Test]
    public async Task SessionsWithoutUsing_LeaveNoInFlightState()
    {
        var options = new CacheOptions { TimeProvider = Time };
        var backend = await CreateBackendAsync(options, "n" + Guid.NewGuid().ToString("N")[..12]);
        _disposables.Add(backend);
        for (var i = 0; i < 20; i++)
        {
            var session = new CachedSession(backend, disposeHandler: false) { BaseAddress = Origin.BaseAddress };
            var response = await session.GetAsync($"/echo/{Unique()}");
            await response.Content.ReadAsStringAsync();
        }

        Assert.That(backend.InFlight, Is.Empty);
    }
}
