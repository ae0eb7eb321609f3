using System.Net;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Redirects followed by the caching handler: one alias per hop, cookies of every hop restored on hits.</summary>
[Parallelizable(ParallelScope.All)]
public class RedirectTests
{
    private const string A = "https://example.com/a";
    private const string B = "https://example.com/b";
    private const string C = "https://other.example.org/c";

    /// <summary>A → (302, relative) B → (301, absolute, other host) C → 200.</summary>
    private static StubHandler Chain(StubHandler? stub = null) => (stub ?? new StubHandler())
        .Respond(A, StubResponse.Redirect("/b"))
        .Respond(B, StubResponse.Redirect(C, HttpStatusCode.MovedPermanently))
        .Respond(C, StubResponse.Ok("final"));

    [Test]
    public async Task Send_RedirectChain_FollowsEveryHop()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);

        var (response, body) = await cache.GetAsync(A);

        body.Should().Be("final");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.RequestMessage!.RequestUri.Should().Be(new Uri(C));
        cache.Stub.CallCount(A).Should().Be(1);
        cache.Stub.CallCount(B).Should().Be(1);
        cache.Stub.CallCount(C).Should().Be(1);
    }

    [Test]
    public async Task Send_RedirectChain_StoresOneResponseAndOneAliasPerLaterHop()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);

        await cache.GetAsync(A);

        (await cache.Backend.Responses.CountAsync()).Should().Be(1);
        var aliases = new List<string>();
        await foreach (var key in cache.Backend.Redirects.GetKeysAsync())
        {
            aliases.Add(key);
        }

        aliases.Should().BeEquivalentTo([cache.KeyOf(B), cache.KeyOf(C)]);
        (await cache.Backend.Responses.ContainsAsync(cache.KeyOf(A))).Should().BeTrue();
    }

    [TestCase(A)]
    [TestCase(B)]
    [TestCase(C)]
    public async Task Send_AnyHopAfterRedirectChain_IsAHit(string url)
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);
        await cache.GetAsync(A);

        var (hit, body) = await cache.GetAsync(url);

        hit.IsFromCache().Should().BeTrue();
        body.Should().Be("final");
        cache.Stub.TotalCalls.Should().Be(3);
    }

    [TestCase(A)]
    [TestCase(B)]
    public async Task Send_HitAfterRedirects_RequestUriIsTheFinalUrlAsOnTheLiveResponse(string url)
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);
        var (live, _) = await cache.GetAsync(A);

        var (hit, _) = await cache.GetAsync(url);

        hit.IsFromCache().Should().BeTrue();
        hit.RequestMessage!.RequestUri.Should().Be(live.RequestMessage!.RequestUri).And.Be(new Uri(C));
    }

    [Test]
    public void SendSync_RedirectChain_FollowedStoredAndServed()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);

        using (var live = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, A)))
        {
            live.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        using var hit = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, B));
        hit.IsFromCache().Should().BeTrue();
        new StreamReader(hit.Content.ReadAsStream()).ReadToEnd().Should().Be("final");
        cache.Stub.TotalCalls.Should().Be(3);
    }

    [Test]
    public async Task Send_RedirectNotFollowed_RedirectIsReturnedAndNotStored()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: false);

        var (response, _) = await cache.GetAsync(A);

        response.StatusCode.Should().Be(HttpStatusCode.Found);
        response.Headers.Location.Should().Be(new Uri("/b", UriKind.Relative));
        cache.Stub.TotalCalls.Should().Be(1);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_RedirectLoop_StopsAfterMaxRedirects()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Handler.MaxRedirects = 3;
        cache.Stub.Respond("https://example.com/loop", StubResponse.Redirect("/loop"));

        var (response, _) = await cache.GetAsync("https://example.com/loop");

        response.StatusCode.Should().Be(HttpStatusCode.Found);
        cache.Stub.CallCount("https://example.com/loop").Should().Be(4);
    }

    [Test]
    public async Task Send_SeeOtherAfterPost_FollowsWithGetWithoutBody()
    {
        using var cache = new TestCache(followRedirects: true);
        cache.Stub.Respond("https://example.com/form", StubResponse.Redirect("/done", HttpStatusCode.SeeOther));

        using var response = await cache.Client.PostAsync("https://example.com/form", new StringContent("data"));

        var followed = cache.Stub.RequestsTo("https://example.com/done").Single();
        followed.Method.Should().Be(HttpMethod.Get);
        followed.Body.Should().BeEmpty();
    }

    [Test]
    public async Task Send_RedirectWhileDisabled_IsStillFollowed()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);

        using (cache.Handler.Disable())
        {
            var (response, body) = await cache.GetAsync(A);

            response.StatusCode.Should().Be(HttpStatusCode.OK);
            body.Should().Be("final");
        }

        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Send_RedirectWithDoNotCache_IsStillFollowed()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);

        var (response, body) = await cache.GetAsync(A, r => r.SetExpireAfter(Expiration.DoNotCache));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Be("final");
        response.RequestMessage!.RequestUri.Should().Be(new Uri(C));
    }

    [Test]
    public async Task Send_RedirectedPostWithCacheControl_InvalidatesThePostTarget()
    {
        using var cache = new TestCache(o => { o.CacheControl = true; o.ExpireAfter = TimeSpan.FromHours(1); }, followRedirects: true);
        cache.Stub.Respond("https://example.com/form", r => r.Method == HttpMethod.Post
            ? StubResponse.Redirect("/done", HttpStatusCode.SeeOther)
            : StubResponse.Ok("form " + r.Call));
        await cache.GetAsync("https://example.com/form");

        (await cache.Client.PostAsync("https://example.com/form", new StringContent("data"))).Dispose();
        var (after, body) = await cache.GetAsync("https://example.com/form");

        after.IsFromCache().Should().BeFalse();
        body.Should().Be("form 3");
    }

    [Test]
    public async Task Send_RedirectToOtherHost_DropsAuthorization()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);

        await cache.GetAsync(A, r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer secret"));

        cache.Stub.RequestsTo(B).Single().Header("Authorization").Should().Be("Bearer secret");
        cache.Stub.RequestsTo(C).Single().Header("Authorization").Should().BeNull();
    }

    [Test]
    public async Task Send_HitAfterRedirects_RestoresCookiesOfHopsAndFinalResponse()
    {
        var stub = new StubHandler().WithCookieContainer()
            .Respond(A, StubResponse.Redirect("/b").WithHeader("Set-Cookie", "hop_a=1; Path=/"))
            .Respond(B, StubResponse.Redirect(C).WithHeader("Set-Cookie", "hop_b=2; Path=/"))
            .Respond(C, StubResponse.Ok("final").WithHeader("Set-Cookie", "final=3; Path=/"));
        using var cache = new TestCache(stub: stub, followRedirects: true);
        await cache.GetAsync(A);
        stub.Cookies!.Count.Should().Be(0, "the stub never hands responses to the cookie-keeping handler");

        var (hit, _) = await cache.GetAsync(A);

        hit.IsFromCache().Should().BeTrue();
        stub.Cookies.GetCookies(new Uri(A)).Select(c => $"{c.Name}={c.Value}").Should().BeEquivalentTo(["hop_a=1", "hop_b=2"]);
        stub.Cookies.GetCookies(new Uri(C)).Select(c => $"{c.Name}={c.Value}").Should().BeEquivalentTo(["final=3"]);
    }

    [Test]
    public async Task Send_HitInAnotherClient_RestoresCookiesIntoThatClientsContainer()
    {
        var stub = new StubHandler().WithCookieContainer()
            .Respond(A, StubResponse.Redirect(C).WithHeader("Set-Cookie", "hop=1; Path=/"))
            .Respond(C, StubResponse.Ok("final").WithHeader("Set-Cookie", "session=abc; Path=/"));
        using var cache = new TestCache(stub: stub, followRedirects: true);
        await cache.GetAsync(A);
        var otherStub = new StubHandler().WithCookieContainer();
        using var other = new HttpClient(new CachingHandler(cache.Backend, otherStub) { FollowRedirects = true });

        (await other.GetStringAsync(A)).Should().Be("final");
        (await other.GetStringAsync(C)).Should().Be("final");

        otherStub.TotalCalls.Should().Be(0);
        otherStub.Cookies!.GetCookies(new Uri(A))["hop"]!.Value.Should().Be("1");
        otherStub.Cookies.GetCookies(new Uri(C))["session"]!.Value.Should().Be("abc");
    }

    [Test]
    public async Task Send_EachHit_PutsCookiesBackAgain()
    {
        var stub = new StubHandler().WithCookieContainer()
            .Respond(A, StubResponse.Ok("cookie").WithHeader("Set-Cookie", "token=1; Path=/"));
        using var cache = new TestCache(stub: stub, followRedirects: true);
        await cache.GetAsync(A);
        await cache.GetAsync(A);
        var cookie = stub.Cookies!.GetCookies(new Uri(A))["token"]!;
        cookie.Expired = true;
        stub.Cookies.GetCookies(new Uri(A))["token"].Should().BeNull();

        await cache.GetAsync(A);

        stub.Cookies.GetCookies(new Uri(A))["token"]!.Value.Should().Be("1");
    }

    [Test]
    public async Task Send_InnerHandlerWithoutCookies_HitStillServed()
    {
        var stub = new StubHandler().Respond(A, StubResponse.Ok("x").WithHeader("Set-Cookie", "a=1"));
        using var cache = new TestCache(stub: stub);
        await cache.GetAsync(A);

        var (hit, body) = await cache.GetAsync(A);

        hit.IsFromCache().Should().BeTrue();
        body.Should().Be("x");
    }

    [Test]
    public async Task GetResponseAsync_AliasKey_FollowsToFinalResponse()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);
        await cache.GetAsync(A);

        var viaAlias = await cache.Backend.GetResponseAsync(cache.KeyOf(B));

        viaAlias.Should().NotBeNull();
        viaAlias!.Url.Should().Be(new Uri(C));
        viaAlias.History.Select(h => (h.Url.AbsoluteUri, h.StatusCode)).Should().Equal((A, 302), (B, 301));
    }

    [Test]
    public async Task DeleteAsync_ResponseWithAliases_RemovesAliasesToo()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);
        await cache.GetAsync(A);

        (await cache.Backend.DeleteAsync(cache.KeyOf(A))).Should().BeTrue();

        (await cache.Backend.Responses.CountAsync()).Should().Be(0);
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0);
        await cache.GetAsync(B);
        cache.Stub.CallCount(B).Should().Be(2);
    }

    [Test]
    public async Task DeleteAsync_AliasKey_RemovesResponseAndEveryAlias()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);
        await cache.GetAsync(A);

        (await cache.Backend.DeleteAsync(cache.KeyOf(C))).Should().BeTrue();

        (await cache.Backend.Responses.CountAsync()).Should().Be(0);
        (await cache.Backend.Redirects.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task HasUrlAsync_HopUrl_IsTrue()
    {
        using var cache = new TestCache(stub: Chain(), followRedirects: true);
        await cache.GetAsync(A);

        (await cache.Backend.HasUrlAsync(B)).Should().BeTrue();
        (await cache.Backend.HasUrlAsync("https://example.com/unrelated")).Should().BeFalse();
    }
}
