using System.Net;
using System.Net.Http.Json;

namespace CachedHttp.Tests.Integration.Foundation;

/// <summary>Every HttpClient entry point caches, over real sockets.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class EntryPointTests : OriginFixture
{
    private static readonly Func<CachedSession, string, Task>[] EntryPoints =
    [
        async (s, u) => (await s.GetAsync(u)).Dispose(),
        async (s, u) => await s.GetStringAsync(u),
        async (s, u) => await s.GetByteArrayAsync(u),
        async (s, u) => { await using var stream = await s.GetStreamAsync(u); await stream.CopyToAsync(Stream.Null); },
        async (s, u) => await s.GetFromJsonAsync<Dictionary<string, object>>(u),
        async (s, u) => { using var r = new HttpRequestMessage(HttpMethod.Get, u); (await s.SendAsync(r)).Dispose(); },
        async (s, u) => { using var r = new HttpRequestMessage(HttpMethod.Get, u); (await s.SendAsync(r, CancellationToken.None)).Dispose(); },
        async (s, u) =>
        {
            using var r = new HttpRequestMessage(HttpMethod.Get, u);
            using var response = await s.SendAsync(r, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            await stream.CopyToAsync(Stream.Null);
        },
        (s, u) => { using var r = new HttpRequestMessage(HttpMethod.Get, u); s.Send(r).Dispose(); return Task.CompletedTask; },
        (s, u) =>
        {
            using var r = new HttpRequestMessage(HttpMethod.Get, u);
            using var response = s.Send(r, HttpCompletionOption.ResponseHeadersRead);
            using var stream = response.Content.ReadAsStream();
            stream.CopyTo(Stream.Null);
            return Task.CompletedTask;
        },
        async (s, u) => (await s.GetAsync(u, Expiration.After(TimeSpan.FromHours(1)))).Dispose(),
        async (s, u) => await s.GetStringAsync(u, Expiration.After(TimeSpan.FromHours(1))),
        async (s, u) => await s.GetByteArrayAsync(u, Expiration.After(TimeSpan.FromHours(1))),
    ];

    private static IEnumerable<int> EntryPointIndexes => Enumerable.Range(0, EntryPoints.Length);

    [TestCaseSource(nameof(EntryPointIndexes))]
    public async Task EntryPoint_SecondCall_IsServedFromCache(int index)
    {
        using var session = NewSession();
        var path = "/json?entry=" + index + "&u=" + Unique();
        await EntryPoints[index](session, path);
        await EntryPoints[index](session, path);
        Assert.That(Origin.Requests("/json"), Is.GreaterThanOrEqualTo(1));
        Assert.That(Origin.RecordedRequests.Count(r => r.Query.Contains(path.Split('?')[1], StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public async Task Hit_BodyCanBeReadManyTimes()
    {
        using var session = NewSession();
        var path = "/bytes/5000?seed=7&u=" + Unique();
        (await session.GetAsync(path)).Dispose();
        using var hit = await session.GetAsync(path);
        Assert.That(hit.IsFromCache(), Is.True);
        var first = await hit.Content.ReadAsByteArrayAsync();
        var second = await hit.Content.ReadAsByteArrayAsync();
        await using var stream = await hit.Content.ReadAsStreamAsync();
        using var third = new MemoryStream();
        await stream.CopyToAsync(third);
        Assert.That(first, Is.EqualTo(CachedHttp.Testing.TestOrigin.ExpectedBytes(5000, 7)));
        Assert.That(second, Is.EqualTo(first));
        Assert.That(third.ToArray(), Is.EqualTo(first));
    }

    [Test]
    public async Task LiveResponse_StreamsToCaller_AndIsStoredAtTheEnd()
    {
        using var session = NewSession();
        var path = "/stream/200000?seed=3&u=" + Unique();
        using (var live = await session.GetAsync(path, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.That(live.IsFromCache(), Is.False);
            Assert.That(await session.Cache.CountAsync(), Is.EqualTo(0), "nothing is stored before the body is read");
            await using var stream = await live.Content.ReadAsStreamAsync();
            var buffer = new byte[8192];
            var total = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            Assert.That(total, Is.EqualTo(200000));
        }

        Assert.That(await session.Cache.CountAsync(), Is.EqualTo(1));
        using var hit = await session.GetAsync(path);
        Assert.That(hit.IsFromCache(), Is.True);
        Assert.That(await hit.Content.ReadAsByteArrayAsync(), Is.EqualTo(CachedHttp.Testing.TestOrigin.ExpectedBytes(200000, 3)));
    }

    [Test]
    public async Task BodyOverMaxBodySize_PassesThroughUncached()
    {
        using var session = NewSession(new CacheOptions { MaxBodySize = 100_000 });
        var known = "/bytes/150000?u=" + Unique();
        var chunked = "/stream/150000?u=" + Unique();
        foreach (var path in new[] { known, chunked, known, chunked })
        {
            var body = await session.GetByteArrayAsync(path);
            Assert.That(body, Has.Length.EqualTo(150000));
        }

        Assert.That(await session.Cache.CountAsync(), Is.EqualTo(0));
        Assert.That(Origin.Requests(known.Split('?')[0]) + Origin.Requests(chunked.Split('?')[0]), Is.GreaterThanOrEqualTo(4));
    }

    [Test]
    public async Task ConnectionDroppedMidBody_ThrowsToCaller_AndStoresNothing()
    {
        using var session = NewSession();
        var path = "/drop-mid-body/100000?u=" + Unique();
        Assert.That(async () => await session.GetByteArrayAsync(path), Throws.InstanceOf<HttpRequestException>().Or.InstanceOf<IOException>());
        Assert.That(await session.Cache.CountAsync(), Is.EqualTo(0));
    }

    [Test]
    public async Task ConnectionDropped_FailureReachesEveryCoalescedCaller_AndNothingIsCached()
    {
        using var session = NewSession();
        var path = "/drop?u=" + Unique();
        var calls = Enumerable.Range(0, 20).Select(async _ =>
        {
            try
            {
                (await session.GetAsync(path)).Dispose();
                return false;
            }
            catch (HttpRequestException)
            {
                return true;
            }
        });
        var failed = await Task.WhenAll(calls);
        Assert.That(failed, Is.All.True);
        Assert.That(await session.Cache.CountAsync(), Is.EqualTo(0));
    }

    [Test]
    public async Task CookiesOfCachedResponse_AreRestoredOnEachHit()
    {
        var backend = new CacheBackend();
        var inner = CachingHandler.CreateDefaultInnerHandler();
        using var session = new CachedSession(backend, inner) { BaseAddress = Origin.BaseAddress };
        session.Handler.FollowRedirects = true;
        var path = "/cookies/set?flavour=" + Unique();
        (await session.GetAsync(path)).Dispose();
        var cookieUri = Origin.BaseAddress;
        Assert.That(inner.CookieContainer.GetCookies(cookieUri)["flavour"], Is.Not.Null);

        foreach (Cookie cookie in inner.CookieContainer.GetCookies(cookieUri))
        {
            cookie.Expired = true;
        }

        Assert.That(inner.CookieContainer.GetCookies(cookieUri)["flavour"], Is.Null);
        using var hit = await session.GetAsync(path);
        Assert.That(hit.IsFromCache(), Is.True);
        Assert.That(inner.CookieContainer.GetCookies(cookieUri)["flavour"], Is.Not.Null);
    }

    [Test]
    public async Task RelativeUrls_AreKeyedWithTheBaseAddress()
    {
        var backend = new CacheBackend();
        await using var other = await CachedHttp.Testing.TestOrigin.StartAsync();
        using var first = new CachedSession(backend) { BaseAddress = Origin.BaseAddress };
        using var second = new CachedSession(backend) { BaseAddress = other.BaseAddress };
        var path = "/echo/" + Unique();
        (await first.GetAsync(path)).Dispose();
        using var response = await second.GetAsync(path);
        Assert.That(response.IsFromCache(), Is.False);
        Assert.That(other.Requests(path), Is.EqualTo(1));
    }

    [Test]
    public async Task Refresh_SendsValidators_AndMergesHeadersOf304()
    {
        using var session = NewSession();
        var tag = Unique();
        var path = $"/etag/{tag}";
        using (var first = await session.GetAsync(path))
        {
            Assert.That(first.IsFromCache(), Is.False);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, path).SetRefresh();
        using var refreshed = await session.SendAsync(request);
        Assert.That(refreshed.GetCacheInfo().Status, Is.EqualTo(CacheStatus.Revalidated));
        Assert.That(await refreshed.Content.ReadAsStringAsync(), Is.EqualTo($"etag {tag}"));
        Assert.That(Origin.NotModifiedCount(path), Is.EqualTo(1));
        var sent = Origin.RecordedRequests.Last(r => r.Path == path);
        Assert.That(sent.Header("If-None-Match"), Is.EqualTo($"\"{tag}\""));
    }

    [Test]
    public async Task ForceRefresh_SkipsTheStoredResponse_AndStoresTheNewOne()
    {
        using var session = NewSession();
        (await session.GetAsync("/etag/rotating")).Dispose();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/etag/rotating").SetForceRefresh();
        using var forced = await session.SendAsync(request);
        var body = await forced.Content.ReadAsStringAsync();
        Assert.That(forced.IsFromCache(), Is.False);
        using var hit = await session.GetAsync("/etag/rotating");
        Assert.That(hit.IsFromCache(), Is.True);
        Assert.That(await hit.Content.ReadAsStringAsync(), Is.EqualTo(body));
    }

    [Test]
    public async Task CacheControlMode_MaxAgeOfTheOrigin_DecidesExpiry()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        using var session = NewSession(new CacheOptions { CacheControl = true, TimeProvider = time });
        var path = "/cache/60?u=" + Unique();
        (await session.GetAsync(path)).Dispose();
        using (var hit = await session.GetAsync(path))
        {
            Assert.That(hit.IsFromCache(), Is.True);
        }

        time.Advance(TimeSpan.FromSeconds(61));
        using var revalidated = await session.GetAsync(path);
        Assert.That(revalidated.GetCacheInfo().Status, Is.EqualTo(CacheStatus.Revalidated));
        Assert.That(Origin.NotModifiedCount("/cache/60"), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task DisabledInOneSession_DoesNotAffectAnotherSharingTheBackend()
    {
        var backend = new CacheBackend();
        using var first = NewSession(backend: backend);
        using var second = NewSession(backend: backend);
        var path = "/echo/" + Unique();
        (await first.GetAsync(path)).Dispose();
        using (first.Disabled())
        {
            using var bypassed = await first.GetAsync(path);
            using var hit = await second.GetAsync(path);
            Assert.That(bypassed.IsFromCache(), Is.False);
            Assert.That(hit.IsFromCache(), Is.True);
        }
    }
}
