using System.Diagnostics;
using System.Net;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Rfc9111;

/// <summary>RFC 9111 §4.3 (validation), §4.2.4 and RFC 5861 (stale), §4.4 (invalidation), and the precedence table, over real sockets.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ValidationStaleInvalidationTests : RfcFixture
{
    [Test]
    public async Task S4_3_StaleWithETag_IsRevalidatedNotDeleted()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var tag = "v" + Unique();
        var path = "/etag/" + tag + "?cc=max-age%3D1";
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromDays(3));

        var (response, body) = await SendAsync(session, path);

        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("etag " + tag);
        Origin.NotModifiedCount("/etag/" + tag).Should().Be(1);
        Recorded("/etag/" + tag)[1].Header("If-None-Match").Should().Be("\"" + tag + "\"");
    }

    [TestCase(ValidatorPreference.Both, true, true)]
    [TestCase(ValidatorPreference.ETag, true, false)]
    [TestCase(ValidatorPreference.LastModified, false, true)]
    public async Task S4_3_1_ValidatorPreference_ChoosesTheConditionalHeaders(ValidatorPreference preference, bool ifNoneMatch, bool ifModifiedSince)
    {
        var (session, time) = NewRfcSession(o => o.Validators = preference);
        using var _ = session;
        var lastModified = DateTimeOffset.UtcNow.AddDays(-1).ToString("r", System.Globalization.CultureInfo.InvariantCulture);
        var path = Script((context, n) => n == 0
            ? Reply(context, 200, $"Cache-Control: max-age=1|ETag: \"x\"|Last-Modified: {lastModified}")
            : Reply(context, 304, $"ETag: \"x\"|Last-Modified: {lastModified}|Cache-Control: max-age=60"));
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(10));

        (await SendAsync(session, path)).Response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);

        var sent = Recorded(path)[1];
        (sent.Header("If-None-Match") is not null).Should().Be(ifNoneMatch);
        (sent.Header("If-Modified-Since") is not null).Should().Be(ifModifiedSince);
    }

    [Test]
    public async Task S4_3_4_304_UpdatesStoredFieldsAndFreshness_AndServesTheStoredBody()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script((context, n) => n == 0
            ? Reply(context, 200, "Cache-Control: max-age=1|ETag: \"a\"|Test-Header: A|Content-Type: text/plain", "original body", time.GetUtcNow())
            : Reply(context, 304, "Cache-Control: max-age=3600|ETag: \"a\"|Test-Header: B|Content-Type: text/plain;charset=utf-8", now: time.GetUtcNow()));
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(10));

        var (revalidated, body) = await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(600));
        var (hit, hitBody) = await SendAsync(session, path);

        revalidated.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("original body");
        revalidated.Headers.GetValues("Test-Header").Should().Equal("B");
        hit.GetCacheInfo().Status.Should().Be(CacheStatus.Hit, "the 304 gave a new freshness lifetime");
        hit.Headers.GetValues("Test-Header").Should().Equal("B");
        hit.Content.Headers.ContentType!.CharSet.Should().Be("utf-8");
        hitBody.Should().Be("original body");
        Origin.Requests(path).Should().Be(2);
    }

    [Test]
    public async Task S4_3_4_304ThatSelectsNothing_IsRepeatedUnconditionally()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script((context, n) => n switch
        {
            0 => Reply(context, 200, "Cache-Control: max-age=1|ETag: \"a\"", "old"),
            1 => Reply(context, 304, "ETag: \"other\""),
            _ => Reply(context, 200, "Cache-Control: max-age=60|ETag: \"b\"", "new"),
        });
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(10));

        var (response, body) = await SendAsync(session, path);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Be("new");
        Recorded(path)[2].Header("If-None-Match").Should().BeNull();
    }

    [Test]
    public async Task S4_3_4_WeakETag_IsSentAndSelects()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script((context, n) => context.Request.Headers.IfNoneMatch.Count > 0
            ? Reply(context, 304, "ETag: W/\"w1\"|Cache-Control: max-age=60")
            : Reply(context, 200, "ETag: W/\"w1\"|Cache-Control: max-age=1", "weak"));
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(10));

        var (response, body) = await SendAsync(session, path);

        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        body.Should().Be("weak");
        Recorded(path)[1].Header("If-None-Match").Should().Be("W/\"w1\"");
    }

    [TestCase("If-None-Match: \"{tag}\"", HttpStatusCode.NotModified, TestName = "S4_3_2_FreshAndMatching_304FromTheCache")]
    [TestCase("If-None-Match: W/\"{tag}\"", HttpStatusCode.NotModified, TestName = "S4_3_2_WeakComparison_304FromTheCache")]
    [TestCase("If-None-Match: \"nope\"", HttpStatusCode.OK, TestName = "S4_3_2_FreshButNotMatching_StoredResponse")]
    public async Task S4_3_2_CallerPreconditions(string header, HttpStatusCode expected)
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var tag = "c" + Unique();
        var path = "/etag/" + tag + "?cc=max-age%3D600";
        await SendAsync(session, path);

        var (response, _) = await SendAsync(session, path, header.Replace("{tag}", tag, StringComparison.Ordinal));

        response.StatusCode.Should().Be(expected);
        response.IsFromCache().Should().BeTrue();
        Origin.Requests("/etag/" + tag).Should().Be(1);
    }

    [Test]
    public async Task S4_3_5_HeadResponse_FreshensTheStoredGet()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script((context, n) => HttpMethodsIsHead(context)
            ? Reply(context, 200, "Cache-Control: max-age=600|ETag: \"h\"|X-Version: 2", now: time.GetUtcNow())
            : Reply(context, 200, "Cache-Control: max-age=1|ETag: \"h\"|X-Version: 1", "get body", time.GetUtcNow()));
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(10));

        (await SendAsync(session, path, method: "HEAD")).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        var (get, body) = await SendAsync(session, path);

        get.GetCacheInfo().Status.Should().Be(CacheStatus.Hit);
        get.Headers.GetValues("X-Version").Should().Equal("2");
        body.Should().Be("get body");
        Recorded(path).Select(r => r.Method).Should().Equal("GET", "HEAD");
    }

    [Test]
    public async Task RFC5861_3_StaleWhileRevalidate_ServesAtOnce_OneRevalidationForTenRequests()
    {
        var (session, time) = NewRfcSession();
        using var _ = session;
        var path = Script(async (context, n) =>
        {
            if (n > 0)
            {
                await Task.Delay(2000);
            }

            await Reply(context, 200, "Cache-Control: max-age=1, stale-while-revalidate=600|ETag: \"s\"", "v" + n);
        });
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => SendAsync(session, path)));
        clock.Stop();

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1), "stale responses are served without waiting for the origin");
        results.Should().OnlyContain(r => r.Body == "v0" && r.Response.GetCacheInfo().Status == CacheStatus.Stale);
        await Task.Delay(2500);
        Origin.Requests(path).Should().Be(2, "exactly one background revalidation");
        (await SendAsync(session, path)).Body.Should().Be("v1");
    }

    [Test]
    public async Task RFC5861_3_StaleWhileRevalidateOption_AppliesWithoutTheDirective()
    {
        var (session, time) = NewRfcSession(o => o.StaleWhileRevalidate = TimeSpan.FromMinutes(10));
        using var _ = session;
        var path = Script((context, n) => Reply(context, 200, "Cache-Control: max-age=1", "v" + n));
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(30));

        var (stale, body) = await SendAsync(session, path);

        stale.GetCacheInfo().Status.Should().Be(CacheStatus.Stale);
        body.Should().Be("v0");
    }

    // The origin fails on the second request: it drops the connection, or answers a status.
    [TestCase("max-age=1, stale-if-error=600", null, -1, true, TestName = "RFC5861_4_ConnectionDropped_StaleServed")]
    [TestCase("max-age=1", 600, -1, true, TestName = "RFC5861_4_ConnectionDropped_OptionServesStale")]
    [TestCase("max-age=1, stale-if-error=600", null, 503, true, TestName = "RFC5861_4_503_StaleServed")]
    [TestCase("max-age=1, stale-if-error=600", null, 500, true, TestName = "RFC5861_4_500_StaleServed")]
    [TestCase("max-age=1, stale-if-error=600", null, 501, false, TestName = "RFC5861_4_501_IsNotAnError")]
    [TestCase("max-age=1, stale-if-error=5", null, 503, false, TestName = "RFC5861_4_BeyondTheWindow_ErrorPassedOn")]
    [TestCase("max-age=1, must-revalidate, stale-if-error=600", null, 503, false, TestName = "S5_2_2_2_MustRevalidate_ForbidsStale")]
    [TestCase("max-age=1, no-cache, stale-if-error=600", null, 503, false, TestName = "S5_2_2_4_NoCache_ForbidsStale")]
    [TestCase("max-age=1, must-revalidate", 600, -1, false, TestName = "S5_2_2_2_MustRevalidate_ConnectionDropped_Throws")]
    public async Task RFC5861_4_StaleIfError(string cacheControl, int? option, int failure, bool servedStale)
    {
        var (session, time) = NewRfcSession(o => o.StaleIfError = option is { } s ? TimeSpan.FromSeconds(s) : null);
        using var _ = session;
        var path = Script((context, n) =>
        {
            if (n == 0)
            {
                return Reply(context, 200, $"Cache-Control: {cacheControl}|ETag: \"e\"", "stored");
            }

            if (failure < 0)
            {
                context.Abort();
                return Task.CompletedTask;
            }

            return Reply(context, failure, null, "error " + failure);
        });
        await SendAsync(session, path);
        time.Advance(TimeSpan.FromSeconds(30));

        if (failure < 0 && !servedStale)
        {
            await FluentActions.Awaiting(() => SendAsync(session, path)).Should().ThrowAsync<HttpRequestException>();
            return;
        }

        var (response, body) = await SendAsync(session, path);
        body.Should().Be(servedStale ? "stored" : "error " + failure);
        response.GetCacheInfo().Status.Should().Be(servedStale ? CacheStatus.Stale : CacheStatus.Miss);
    }

    [Test]
    public async Task RFC5861_4_StoppedOrigin_StaleServed()
    {
        var origin = await TestOrigin.StartAsync();
        var (session, time) = NewRfcSession(origin.BaseAddress);
        using var _ = session;
        await SendAsync(session, "/etag/down?cc=" + Uri.EscapeDataString("max-age=1, stale-if-error=600"));
        await origin.DisposeAsync();
        time.Advance(TimeSpan.FromSeconds(30));

        var (response, body) = await SendAsync(session, "/etag/down?cc=" + Uri.EscapeDataString("max-age=1, stale-if-error=600"));

        response.GetCacheInfo().Status.Should().Be(CacheStatus.Stale);
        body.Should().Be("etag down");
    }

    [TestCase("POST", 200, true, TestName = "S4_4_Post_Invalidates")]
    [TestCase("PUT", 201, true, TestName = "S4_4_Put_Invalidates")]
    [TestCase("PATCH", 204, true, TestName = "S4_4_Patch_Invalidates")]
    [TestCase("DELETE", 200, true, TestName = "S4_4_Delete_Invalidates")]
    [TestCase("POST", 500, false, TestName = "S4_4_ErrorResponse_DoesNotInvalidate")]
    public async Task S4_4_UnsafeMethod_InvalidatesTheTargetUri(string method, int status, bool invalidated)
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var path = Script((context, n) => context.Request.Method == "GET"
            ? Reply(context, 200, "Cache-Control: max-age=600", "get " + n)
            : Reply(context, status, null, "done"));
        await SendAsync(session, path);

        (await SendAsync(session, path, method: method)).Response.Dispose();
        var (after, _) = await SendAsync(session, path);

        after.IsFromCache().Should().Be(!invalidated);
    }

    [TestCase("Location", TestName = "S4_4_SameOriginLocation_Invalidated")]
    [TestCase("Content-Location", TestName = "S4_4_SameOriginContentLocation_Invalidated")]
    public async Task S4_4_SameOriginLocations_AreInvalidated(string header)
    {
        var (session, _) = NewRfcSession();
        using var __ = session;
        var target = Script((context, n) => Reply(context, 200, "Cache-Control: max-age=600", "target " + n));
        var action = Script((context, _) => Reply(context, 201, $"{header}: {target}", "created"));
        await SendAsync(session, target);

        (await SendAsync(session, action, method: "POST")).Response.Dispose();
        var (after, body) = await SendAsync(session, target);

        after.IsFromCache().Should().BeFalse();
        body.Should().Be("target 1");
    }

    [Test]
    public async Task S4_4_CrossOriginLocation_IsNotInvalidated()
    {
        await using var other = await TestOrigin.StartAsync();
        var (session, _) = NewRfcSession();
        using var __ = session;
        var foreign = new Uri(other.BaseAddress, "/cache/600?u=" + Unique());
        var action = Script((context, _) => Reply(context, 201, $"Location: {foreign}", "created"));
        await session.GetAsync(foreign);

        (await SendAsync(session, action, method: "POST")).Response.Dispose();
        using var after = await session.GetAsync(foreign);

        after.IsFromCache().Should().BeTrue();
    }

    // The precedence table of docs/rfc9111-compliance.md over sockets: which expiration wins (seconds of freshness).
    [TestCase("Cache-Control: max-age=100", null, 30, 40, 50, 100, TestName = "Precedence_ResponseHeaders_First")]
    [TestCase(null, "Cache-Control: max-age=200", 30, 40, 50, 200, TestName = "Precedence_RequestHeaders_Second")]
    [TestCase(null, null, 300, 400, 500, 300, TestName = "Precedence_PerRequest_Third")]
    [TestCase(null, null, null, 400, 500, 400, TestName = "Precedence_UrlPattern_Fourth")]
    [TestCase(null, null, null, null, 500, 500, TestName = "Precedence_SessionDefault_Fifth")]
    public async Task Precedence_OverSockets(string? responseFields, string? requestHeaders, int? perRequest, int? pattern, int? session, int freshSeconds)
    {
        var path = Script((context, n) => Reply(context, 200, responseFields, "n=" + n));
        var (cached, time) = NewRfcSession(o =>
        {
            if (session is { } s)
            {
                o.ExpireAfter = TimeSpan.FromSeconds(s);
            }

            if (pattern is { } p)
            {
                o.UrlsExpireAfter[Origin.BaseAddress.Authority + path] = TimeSpan.FromSeconds(p);
            }
        });
        using var _ = cached;
        Action<HttpRequestMessage>? setup = perRequest is { } r ? m => m.SetExpireAfter(TimeSpan.FromSeconds(r)) : null;
        await SendAsync(cached, path, requestHeaders, setup: setup);

        time.Advance(TimeSpan.FromSeconds(freshSeconds - 5));
        (await SendAsync(cached, path, setup: setup)).Response.IsFromCache().Should().BeTrue();
        time.Advance(TimeSpan.FromSeconds(10));
        (await SendAsync(cached, path, setup: setup)).Response.IsFromCache().Should().BeFalse();
    }

    private static bool HttpMethodsIsHead(Microsoft.AspNetCore.Http.HttpContext context) => Microsoft.AspNetCore.Http.HttpMethods.IsHead(context.Request.Method);
}
