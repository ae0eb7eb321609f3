using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>The RFC 9111 request flow of <see cref="CachingHandler"/> against a scripted in-process origin (no sockets).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class HandlerTests
{
    [Test]
    public async Task S4_ServedResponse_CarriesItsCurrentAge_S5_1()
    {
        using var h = new Harness((h, _, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|Age: 30|Date: @0"));
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(100));

        var (hit, _) = await h.GetAsync();

        hit.IsFromCache().Should().BeTrue();
        hit.Headers.Age.Should().Be(TimeSpan.FromSeconds(130));
        hit.Headers.Date.Should().Be(Rfc.T0, "a cache must not update Date");
    }

    [TestCase("POST", 200, true, TestName = "S4_4_Post200_Invalidates")]
    [TestCase("PUT", 201, true, TestName = "S4_4_Put201_Invalidates")]
    [TestCase("PATCH", 204, true, TestName = "S4_4_Patch204_Invalidates")]
    [TestCase("DELETE", 200, true, TestName = "S4_4_Delete200_Invalidates")]
    [TestCase("M-SEARCH", 200, true, TestName = "S4_4_UnknownMethod_Invalidates")]
    [TestCase("POST", 303, true, TestName = "S4_4_Post303_Invalidates")]
    [TestCase("POST", 404, false, TestName = "S4_4_Post404_DoesNotInvalidate")]
    [TestCase("POST", 500, false, TestName = "S4_4_Post500_DoesNotInvalidate")]
    [TestCase("OPTIONS", 200, false, TestName = "S4_4_SafeMethod_DoesNotInvalidate")]
    public async Task S4_4_UnsafeMethod_InvalidatesTargetUri(string method, int status, bool invalidated)
    {
        using var h = new Harness((h, r, _) => r.Method == HttpMethod.Get
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600")
            : ScriptedOrigin.Reply(h.Time, status, null));
        await h.GetAsync();

        (await h.SendAsync(method)).Response.Dispose();
        var (after, _) = await h.GetAsync();

        after.IsFromCache().Should().Be(!invalidated);
    }

    [TestCase("Location", "https://example.com/other", true, TestName = "S4_4_SameOriginLocation_Invalidated")]
    [TestCase("Content-Location", "/other", true, TestName = "S4_4_SameOriginContentLocation_Invalidated")]
    [TestCase("Location", "https://elsewhere.example/other", false, TestName = "S4_4_CrossOriginLocation_NotInvalidated")]
    [TestCase("Location", "http://example.com/other", false, TestName = "S4_4_OtherSchemeLocation_NotInvalidated")]
    public async Task S4_4_LocationAndContentLocation(string header, string value, bool invalidated)
    {
        const string other = "https://example.com/other";
        const string foreign = "https://elsewhere.example/other";
        using var h = new Harness((h, r, _) => r.Method == HttpMethod.Get
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600")
            : ScriptedOrigin.Reply(h.Time, 201, $"{header}: {value}"));
        var target = value.StartsWith("https://elsewhere", StringComparison.Ordinal) ? foreign : value.StartsWith("http://", StringComparison.Ordinal) ? "http://example.com/other" : other;
        await h.GetAsync(url: target);

        (await h.SendAsync("POST")).Response.Dispose();
        var (after, _) = await h.GetAsync(url: target);

        after.IsFromCache().Should().Be(!invalidated);
    }

    [Test]
    public async Task S4_3_3_StaleWithETag_Revalidated_304UpdatesHeadersAndFreshness()
    {
        using var h = new Harness((h, r, n) => n == 0
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1|ETag: \"a\"|Test-Header: A|Date: @0", "the body")
            : ScriptedOrigin.Reply(h.Time, 304, "Cache-Control: max-age=3600|ETag: \"a\"|Test-Header: B|Date: @0", string.Empty));
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(10));

        var (revalidated, body) = await h.GetAsync();
        h.Origin.Header(1, "If-None-Match").Should().Be("\"a\"");
        revalidated.StatusCode.Should().Be(HttpStatusCode.OK);
        revalidated.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("the body");
        revalidated.Headers.GetValues("Test-Header").Should().Equal("B");

        h.Time.Advance(TimeSpan.FromSeconds(100));
        var (hit, _) = await h.GetAsync();
        hit.GetCacheInfo().Status.Should().Be(CacheStatus.Hit);
        hit.Headers.GetValues("Test-Header").Should().Equal("B");
        h.Origin.Calls.Should().Be(2);
    }

    [Test]
    public async Task S4_3_4_304WithAnotherStrongETag_RepeatsTheRequestUnconditionally()
    {
        using var h = new Harness((h, r, n) => n switch
        {
            0 => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1|ETag: \"a\"", "old"),
            1 => ScriptedOrigin.Reply(h.Time, 304, "ETag: \"b\"", string.Empty),
            _ => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=60|ETag: \"b\"", "new"),
        });
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(10));

        var (response, body) = await h.GetAsync();

        body.Should().Be("new");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        h.Origin.Calls.Should().Be(3);
        h.Origin.Header(2, "If-None-Match").Should().BeNull();
    }

    [TestCase(ValidatorPreference.Both, "\"a\"", true)]
    [TestCase(ValidatorPreference.ETag, "\"a\"", false)]
    [TestCase(ValidatorPreference.LastModified, null, true)]
    public async Task S4_3_1_ValidatorPreference_DecidesTheConditionalHeaders(ValidatorPreference preference, string? ifNoneMatch, bool ifModifiedSince)
    {
        using var h = new Harness(
            (h, r, n) => n == 0
                ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1|ETag: \"a\"|Last-Modified: @-1000")
                : ScriptedOrigin.Reply(h.Time, 304, "ETag: \"a\"|Last-Modified: @-1010", string.Empty),
            o => o.Validators = preference);
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(10));

        (await h.GetAsync()).Response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);

        h.Origin.Header(1, "If-None-Match").Should().Be(ifNoneMatch);
        (h.Origin.Header(1, "If-Modified-Since") is not null).Should().Be(ifModifiedSince);
    }

    [TestCase("If-None-Match: \"a\"", 304, TestName = "S4_3_2_FreshAndMatchingETag_304FromCache")]
    [TestCase("If-None-Match: W/\"a\"", 304, TestName = "S4_3_2_WeakComparison_304FromCache")]
    [TestCase("If-None-Match: \"zzz\"", 200, TestName = "S4_3_2_FreshButOtherETag_StoredResponse")]
    [TestCase("If-Modified-Since: @-500", 304, TestName = "S4_3_2_IfModifiedSinceAfterLastModified_304FromCache")]
    [TestCase("If-Modified-Since: @-5000", 200, TestName = "S4_3_2_IfModifiedSinceBeforeLastModified_StoredResponse")]
    public async Task S4_3_2_CallerPreconditions_AnsweredFromAFreshResponse(string conditional, int expectedStatus)
    {
        using var h = new Harness((h, _, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|ETag: \"a\"|Last-Modified: @-1000|Date: @0"));
        await h.GetAsync();

        var (response, _) = await h.GetAsync(conditional.Replace("@-500", Rfc.Date(-500), StringComparison.Ordinal).Replace("@-5000", Rfc.Date(-5000), StringComparison.Ordinal));

        ((int)response.StatusCode).Should().Be(expectedStatus);
        response.IsFromCache().Should().BeTrue();
        h.Origin.Calls.Should().Be(1);
        if (expectedStatus == 304)
        {
            response.Headers.ETag!.Tag.Should().Be("\"a\"", "RFC 9110 §15.4.5: a 304 repeats the ETag");
            response.Headers.Age.Should().NotBeNull();
        }
    }

    [Test]
    public async Task S4_3_2_CallerPreconditionOnStaleResponse_IsForwarded_And304FreshensTheCache()
    {
        using var h = new Harness((h, r, n) => n == 0
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1|ETag: \"a\"", "stored")
            : ScriptedOrigin.Reply(h.Time, 304, "Cache-Control: max-age=600|ETag: \"a\"", string.Empty));
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(10));

        var (conditional, _) = await h.GetAsync("If-None-Match: \"a\"");
        conditional.StatusCode.Should().Be(HttpStatusCode.NotModified, "the caller asked a conditional question");
        h.Origin.Header(1, "If-None-Match").Should().Be("\"a\"");

        var (plain, body) = await h.GetAsync();
        plain.GetCacheInfo().Status.Should().Be(CacheStatus.Hit, "the 304 freshened the stored response (§4.3.4)");
        body.Should().Be("stored");
    }

    [Test]
    public async Task S4_3_2_IfMatch_IsTheOriginsToEvaluate()
    {
        using var h = new Harness((h, _, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|ETag: \"a\""));
        await h.GetAsync();

        await h.GetAsync("If-Match: \"a\"");

        h.Origin.Calls.Should().Be(2);
    }

    [Test]
    public async Task S4_3_5_HeadWithMatchingValidator_FreshensTheStoredGet()
    {
        using var h = new Harness((h, r, n) => r.Method == HttpMethod.Head
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|ETag: \"a\"|X-New: 2", string.Empty)
            : ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1|ETag: \"a\"|X-New: 1", "get body"));
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(10));

        (await h.SendAsync("HEAD")).Response.Dispose();
        var (get, body) = await h.GetAsync();

        get.GetCacheInfo().Status.Should().Be(CacheStatus.Hit);
        get.Headers.GetValues("X-New").Should().Equal("2");
        body.Should().Be("get body");
        h.Origin.Calls.Should().Be(2);
    }

    [Test]
    public async Task S4_3_5_HeadWithOtherValidator_MakesTheStoredGetStale()
    {
        using var h = new Harness((h, r, n) => r.Method == HttpMethod.Head
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|ETag: \"b\"", string.Empty)
            : ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|ETag: \"a\"", "get body"));
        await h.GetAsync();

        (await h.SendAsync("HEAD")).Response.Dispose();
        var (get, _) = await h.GetAsync();

        get.IsFromCache().Should().BeFalse();
        h.Origin.Header(2, "If-None-Match").Should().Be("\"a\"", "the stale stored response is revalidated");
    }

    [TestCase("Cache-Control: only-if-cached", false, TestName = "S5_2_1_7_OnlyIfCachedHeader_504WhenNothingStored")]
    [TestCase(null, true, TestName = "S5_2_1_7_SetOnlyIfCached_504WhenNothingStored")]
    public async Task S5_2_1_7_OnlyIfCached_Miss(string? header, bool extension)
    {
        using var h = new Harness((h, _, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600"));

        var (response, _) = await h.GetAsync(header, setup: extension ? r => r.SetOnlyIfCached() : null);

        response.StatusCode.Should().Be(HttpStatusCode.GatewayTimeout);
        h.Origin.Calls.Should().Be(0);
    }

    [Test]
    public async Task S5_2_1_7_OnlyIfCached_ServesFresh_And504ForStale()
    {
        using var h = new Harness((h, _, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=60|ETag: \"a\""));
        await h.GetAsync();

        (await h.GetAsync("Cache-Control: only-if-cached")).Response.IsFromCache().Should().BeTrue();
        h.Time.Advance(TimeSpan.FromSeconds(120));
        (await h.GetAsync("Cache-Control: only-if-cached")).Response.StatusCode.Should().Be(HttpStatusCode.GatewayTimeout);
        (await h.GetAsync("Cache-Control: only-if-cached, max-stale")).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        h.Origin.Calls.Should().Be(1);
    }

    [TestCase("max-age=1, stale-if-error=600", null, true, TestName = "RFC5861_4_NetworkFailure_DirectiveServesStale")]
    [TestCase("max-age=1", 600, true, TestName = "RFC5861_4_NetworkFailure_OptionServesStale")]
    [TestCase("max-age=1, must-revalidate, stale-if-error=600", null, false, TestName = "S5_2_2_2_NetworkFailure_MustRevalidateFails")]
    [TestCase("max-age=1", null, false, TestName = "S4_2_4_NetworkFailure_NoPermissionFails")]
    public async Task RFC5861_4_StaleIfError_NetworkFailure(string cacheControl, int? option, bool servedStale)
    {
        using var h = new Harness(
            (h, _, n) => n == 0 ? ScriptedOrigin.Reply(h.Time, 200, $"Cache-Control: {cacheControl}", "stale body") : throw new HttpRequestException("connection refused"),
            o => o.StaleIfError = option is { } s ? TimeSpan.FromSeconds(s) : null);
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(30));

        var act = () => h.GetAsync();

        if (servedStale)
        {
            var (response, body) = await act();
            body.Should().Be("stale body");
            response.GetCacheInfo().Status.Should().Be(CacheStatus.Stale);
        }
        else
        {
            await act.Should().ThrowAsync<HttpRequestException>();
        }
    }

    [TestCase(500, true)]
    [TestCase(502, true)]
    [TestCase(503, true)]
    [TestCase(504, true)]
    [TestCase(501, false)]
    public async Task RFC5861_4_StaleIfError_ErrorStatus(int status, bool servedStale)
    {
        using var h = new Harness((h, _, n) => n == 0
            ? ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1, stale-if-error=600", "stale body")
            : ScriptedOrigin.Reply(h.Time, status, null, "error"));
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(30));

        var (response, body) = await h.GetAsync();

        ((int)response.StatusCode).Should().Be(servedStale ? 200 : status);
        body.Should().Be(servedStale ? "stale body" : "error");
    }

    [Test]
    public async Task RFC5861_3_StaleWhileRevalidate_ServesAtOnce_RevalidatesOncePerKey()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var h = new Harness((h, _, n) => n == 0
            ? Task.FromResult(ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=1, stale-while-revalidate=600|ETag: \"a\"", "v1"))
            : gate.Task.ContinueWith(_ => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|ETag: \"b\"", "v2"), TaskScheduler.Default));
        await h.GetAsync();
        h.Time.Advance(TimeSpan.FromSeconds(30));

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => h.GetAsync()));

        results.Should().OnlyContain(r => r.Body == "v1" && r.Response.GetCacheInfo().Status == CacheStatus.Stale);
        h.Origin.Calls.Should().Be(2, "one background revalidation for ten stale requests");
        gate.SetResult();
        await WaitUntilAsync(async () => (await h.GetAsync()).Body == "v2");
        h.Origin.Calls.Should().Be(2);
    }

    [Test]
    public async Task S4_1_VaryVariants_ThroughTheHandler()
    {
        using var h = new Harness((h, r, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|Vary: Accept-Language", "lang=" + (r.Headers.AcceptLanguage.FirstOrDefault()?.Value ?? "none")));

        (await h.GetAsync("Accept-Language: en")).Body.Should().Be("lang=en");
        (await h.GetAsync("Accept-Language: de")).Body.Should().Be("lang=de");
        (await h.GetAsync("Accept-Language: en")).Response.IsFromCache().Should().BeTrue();
        (await h.GetAsync("Accept-Language: de")).Body.Should().Be("lang=de");
        (await h.GetAsync()).Response.IsFromCache().Should().BeFalse();
        h.Origin.Calls.Should().Be(3);
    }

    [Test]
    public async Task S3_1_HopByHopFields_AreNotServedFromTheCache()
    {
        using var h = new Harness((h, _, _) => ScriptedOrigin.Reply(h.Time, 200, "Cache-Control: max-age=600|Connection: X-A|X-A: 1|X-B: 2"));
        await h.GetAsync();

        var (hit, _) = await h.GetAsync();

        hit.IsFromCache().Should().BeTrue();
        hit.Headers.Contains("X-A").Should().BeFalse();
        hit.Headers.GetValues("X-B").Should().Equal("2");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(25);
        }

        Assert.Fail("The condition was not met in time.");
    }

    private sealed class Harness : IDisposable
    {
        public Harness(Func<Harness, HttpRequestMessage, int, HttpResponseMessage> script, Action<CacheOptions>? configure = null)
            : this((h, r, n) => Task.FromResult(script(h, r, n)), configure)
        {
        }

        public Harness(Func<Harness, HttpRequestMessage, int, Task<HttpResponseMessage>> script, Action<CacheOptions>? configure = null)
        {
            Origin = new ScriptedOrigin((r, n) => script(this, r, n));
            Backend = new CacheBackend(Rfc.Options(o =>
            {
                o.TimeProvider = Time;
                configure?.Invoke(o);
            }));
            Client = new HttpClient(new CachingHandler(Backend, Origin));
        }

        public FakeTimeProvider Time { get; } = new(Rfc.T0);

        public ScriptedOrigin Origin { get; }

        public CacheBackend Backend { get; }

        public HttpClient Client { get; }

        public Task<(HttpResponseMessage Response, string Body)> GetAsync(string? headers = null, string url = Rfc.Url, Action<HttpRequestMessage>? setup = null)
            => SendAsync("GET", headers, url, setup);

        public async Task<(HttpResponseMessage Response, string Body)> SendAsync(string method, string? headers = null, string url = Rfc.Url, Action<HttpRequestMessage>? setup = null)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), url);
            foreach (var (name, value) in Rfc.Fields(headers))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            if (method is "POST" or "PUT" or "PATCH")
            {
                request.Content = new StringContent("abc");
            }

            setup?.Invoke(request);
            var response = await Client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            return (response, body);
        }

        public void Dispose()
        {
            Client.Dispose();
            Backend.Dispose();
        }
    }
}
