using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace CachedHttp.Testing;

/// <summary>
/// A real HTTP/1.1 origin server (Kestrel on <c>http://127.0.0.1:{random port}/</c>) for tests that need
/// to exercise HTTP caching over real sockets.
/// </summary>
/// <remarks>
/// <para>Every request is counted per path (see <see cref="Requests(string)"/>) and recorded
/// (see <see cref="RecordedRequests"/>) before it is handled. Handlers registered with
/// <see cref="Map(string, RequestDelegate)"/> take precedence over the built-in endpoints.</para>
/// <para>Built-in endpoints (any other path answers 404):</para>
/// <list type="bullet">
/// <item><description><c>/echo</c>, <c>/echo/{**rest}</c> (GET, HEAD, POST, PUT, PATCH, DELETE; other methods get 405):
/// 200 JSON <c>{"method","path","query","headers":{name:value},"body"}</c>, no <c>Cache-Control</c>.</description></item>
/// <item><description><c>/bytes/{n}?seed=K</c>: <c>n</c> deterministic bytes (see <see cref="ExpectedBytes(int, int)"/>),
/// <c>application/octet-stream</c> with <c>Content-Length</c>.</description></item>
/// <item><description><c>/stream/{n}?seed=K</c>: the same bytes, chunked (no <c>Content-Length</c>), flushed every 4096 bytes.</description></item>
/// <item><description><c>/status/{code}</c> (200-599): that status with the text body <c>status {code}</c>
/// (no body for 204, 205 and 304).</description></item>
/// <item><description><c>/redirect/{n}</c>: 302 to the relative <c>/redirect/{n-1}</c> (query string kept; <c>?status_code=</c>
/// picks another 3xx); <c>/redirect/0</c> answers 200 JSON <c>{"url","method","path","query","headers"}</c>.
/// <c>/absolute-redirect/{n}</c> is the same with absolute <c>Location</c> URLs.
/// <c>/redirect-to?url=U&amp;status_code=S</c> answers <c>S</c> (default 302) with <c>Location: U</c>.</description></item>
/// <item><description><c>/cache/{seconds}</c>: <c>Cache-Control: max-age={seconds}</c>, <c>ETag: "v1-{path}"</c>, body
/// <c>{path} #{N}</c> where N counts that path's full (non-304) responses; 304 when <c>If-None-Match</c> matches.</description></item>
/// <item><description><c>/etag/rotating</c>: a new ETag <c>"rN"</c> and body <c>version N</c> on every request.
/// <c>/etag/{tag}</c>: fixed ETag <c>"{tag}"</c>, body <c>etag {tag}</c>, 304 on <c>If-None-Match</c> match.</description></item>
/// <item><description><c>/last-modified</c>: <c>Last-Modified</c> = <see cref="LastModified"/>, body <c>last-modified</c>,
/// 304 when <c>If-Modified-Since</c> &gt;= it (and there is no <c>If-None-Match</c>).</description></item>
/// <item><description><c>/vary?by=Header</c>: <c>Vary: {Header}</c> (default <c>Accept-Language</c>), body = that request header's
/// value (empty when absent), ETag derived from the value, 304 on <c>If-None-Match</c> match.</description></item>
/// <item><description><c>/headers/set?Name=Value&amp;Name=Value2</c>: 200 with those response headers (repeats allowed;
/// <c>Content-Length</c>/<c>Transfer-Encoding</c> ignored), body <c>ok {N}</c>.</description></item>
/// <item><description><c>/cookies/set?name=value</c>: <c>Set-Cookie: name=value; path=/</c> per pair, 200 JSON of the pairs.
/// <c>/cookies</c>: 200 JSON <c>{"cookie": raw Cookie header or null, "cookies": {name: value}}</c>.</description></item>
/// <item><description><c>/slow/{ms}</c>: waits, then 200 <c>slow</c> (the connection is aborted if the origin stops first).</description></item>
/// <item><description><c>/drop</c>: aborts the connection without a response. <c>/drop-mid-body/{n}</c>: headers with
/// <c>Content-Length: n</c>, then the first <c>n/2</c> deterministic bytes, then the connection is closed, so reading the
/// body fails.</description></item>
/// <item><description><c>/json</c>: 200 <c>application/json</c> document <c>{"message","count","items","nested"}</c>.</description></item>
/// </list>
/// <para><c>/etag/*</c>, <c>/last-modified</c> and <c>/vary</c> also accept <c>?cc=...</c> to send that
/// <c>Cache-Control</c> value. 304 responses repeat the validators and <c>Cache-Control</c>; conditional requests are only
/// honoured for GET and HEAD.</para>
/// </remarks>
public sealed class TestOrigin : IAsyncDisposable
{
    /// <summary>How many requests <see cref="RecordedRequests"/> keeps (the oldest are dropped first).</summary>
    public const int MaxRecordedRequests = 1000;

    private const int ChunkSize = 4096;
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);
    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, RequestDelegate> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Path, int Status), int> _responses = new();
    private readonly ConcurrentDictionary<string, int> _contentCounters = new(StringComparer.Ordinal);
    private readonly Queue<RecordedRequest> _recorded = new();
    private readonly Lock _recordedLock = new();
    private int _totalRequests;
    private int _rotatingVersion;
    private int _disposed;

    private TestOrigin(WebApplication app, DateTimeOffset lastModified)
    {
        _app = app;
        LastModified = lastModified;
        BaseAddress = new Uri("http://127.0.0.1/");
    }

    /// <summary>The root address of the running origin, e.g. <c>http://127.0.0.1:54321/</c> (always ends with a slash).</summary>
    public Uri BaseAddress { get; private set; }

    /// <summary>The fixed <c>Last-Modified</c> value sent by <c>/last-modified</c>: one day before the origin started, whole seconds.</summary>
    public DateTimeOffset LastModified { get; }

    /// <summary>Total number of requests received since start or the last <see cref="ResetCounts"/>.</summary>
    public int TotalRequests => Volatile.Read(ref _totalRequests);

    /// <summary>
    /// A snapshot of the last <see cref="MaxRecordedRequests"/> requests received (oldest first), since start or the last
    /// <see cref="ResetCounts"/>.
    /// </summary>
    public IReadOnlyList<RecordedRequest> RecordedRequests
    {
        get
        {
            lock (_recordedLock)
            {
                return [.. _recorded];
            }
        }
    }

    /// <summary>Starts a new origin on a random loopback port.</summary>
    /// <param name="cancellationToken">Cancels the start-up.</param>
    /// <returns>The running origin; dispose it to stop the server.</returns>
    public static async Task<TestOrigin> StartAsync(CancellationToken cancellationToken = default)
    {
        // The empty builder reads no configuration files or environment variables (so no file watchers) and adds no
        // logging providers; Kestrel is added explicitly.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            options.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });

        var app = builder.Build();
        var lastModified = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).AddDays(-1);
        var origin = new TestOrigin(app, lastModified);
        app.Run(origin.HandleAsync);

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()
                ?? throw new InvalidOperationException("Kestrel did not report its address.");
            var address = addresses.Addresses.First();
            origin.BaseAddress = new Uri(address.TrimEnd('/') + "/");
            return origin;
        }
        catch
        {
            await origin.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>An absolute URL on this origin.</summary>
    /// <param name="pathAndQuery">A path with an optional query, e.g. <c>/cache/60?x=1</c> (the leading slash is optional).</param>
    /// <returns><paramref name="pathAndQuery"/> resolved against <see cref="BaseAddress"/>.</returns>
    public Uri Url(string pathAndQuery)
    {
        ArgumentNullException.ThrowIfNull(pathAndQuery);
        return new Uri(BaseAddress, pathAndQuery.StartsWith('/') ? pathAndQuery : "/" + pathAndQuery);
    }

    /// <summary>Number of requests received for a path (any method, any query string, any outcome).</summary>
    /// <param name="path">The path, e.g. <c>/cache/60</c>; a query string, if given, is ignored. Case-sensitive.</param>
    /// <returns>The count since start or the last <see cref="ResetCounts"/>.</returns>
    public int Requests(string path) => _requests.TryGetValue(NormalizePath(path), out var count) ? count : 0;

    /// <summary>Number of <c>304 Not Modified</c> responses sent for a path.</summary>
    /// <param name="path">The path, e.g. <c>/cache/60</c>; a query string, if given, is ignored. Case-sensitive.</param>
    /// <returns>The count since start or the last <see cref="ResetCounts"/>.</returns>
    public int NotModifiedCount(string path) => ResponseCount(path, StatusCodes.Status304NotModified);

    /// <summary>Number of responses with a given status code sent for a path (aborted requests send none).</summary>
    /// <param name="path">The path, e.g. <c>/cache/60</c>; a query string, if given, is ignored. Case-sensitive.</param>
    /// <param name="statusCode">The status code, e.g. 200.</param>
    /// <returns>The count since start or the last <see cref="ResetCounts"/>.</returns>
    public int ResponseCount(string path, int statusCode) =>
        _responses.TryGetValue((NormalizePath(path), statusCode), out var count) ? count : 0;

    /// <summary>
    /// Resets <see cref="Requests(string)"/>, <see cref="TotalRequests"/>, <see cref="NotModifiedCount(string)"/>,
    /// <see cref="ResponseCount(string, int)"/> and clears <see cref="RecordedRequests"/>. Content versions (the
    /// <c>/cache</c>, <c>/headers/set</c> and <c>/json</c> body counters and the <c>/etag/rotating</c> version) keep
    /// increasing so that an origin never serves an old representation again.
    /// </summary>
    public void ResetCounts()
    {
        _requests.Clear();
        _responses.Clear();
        Interlocked.Exchange(ref _totalRequests, 0);
        lock (_recordedLock)
        {
            _recorded.Clear();
        }
    }

    /// <summary>
    /// Registers (or replaces) a handler for an exact path; it is consulted before the built-in endpoints, so it can also
    /// override one. Requests to it are still counted and recorded. Safe to call while requests are in flight.
    /// </summary>
    /// <param name="path">The exact path (no query string), starting with <c>/</c>. Case-sensitive.</param>
    /// <param name="handler">The handler; the request body has already been buffered and can be read again.</param>
    public void Map(string path, RequestDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(handler);
        if (!path.StartsWith('/') || path.Contains('?', StringComparison.Ordinal))
        {
            throw new ArgumentException("The path must start with '/' and contain no query string.", nameof(path));
        }

        _handlers[path] = handler;
    }

    /// <summary>Removes a handler registered with <see cref="Map(string, RequestDelegate)"/>.</summary>
    /// <param name="path">The exact path it was registered for.</param>
    /// <returns><see langword="true"/> if a handler was removed.</returns>
    public bool Unmap(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return _handlers.TryRemove(path, out _);
    }

    /// <summary>
    /// The deterministic content served by <c>/bytes/{n}</c>, <c>/stream/{n}</c> and <c>/drop-mid-body/{n}</c>:
    /// byte <c>i</c> is <c>(i * 31 + 7 + seed * 13) mod 256</c>, so seed 0 gives <c>(i * 31 + 7) % 256</c>.
    /// </summary>
    /// <param name="length">How many bytes.</param>
    /// <param name="seed">The <c>?seed=</c> value (seeds equal modulo 256 give the same content).</param>
    /// <returns>A new array of <paramref name="length"/> bytes.</returns>
    public static byte[] ExpectedBytes(int length, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(((i * 31L) + 7 + (seed * 13L)) & 0xFF);
        }

        return bytes;
    }

    /// <summary>Stops the server (in-flight requests get at most a short grace period) and releases it. Idempotent.</summary>
    /// <returns>A task that completes when the server has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(ShutdownTimeout);
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutdown grace period elapsed; remaining connections have been aborted.
        }
        catch (InvalidOperationException)
        {
            // The server never started.
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }

    private static string NormalizePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var query = path.IndexOf('?', StringComparison.Ordinal);
        return query >= 0 ? path[..query] : path;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.HasValue ? request.Path.Value! : "/";
        Interlocked.Increment(ref _totalRequests);
        _requests.AddOrUpdate(path, 1, static (_, n) => n + 1);

        // Count the response status just before the headers go out, so a client that has seen the response also sees the
        // count. Kestrel still runs OnStarting for a request the application aborted, so aborts are tracked and skipped.
        var lifetime = new AbortTrackingLifetimeFeature(context.Features.GetRequiredFeature<IHttpRequestLifetimeFeature>());
        context.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        context.Response.OnStarting(
            static state =>
            {
                var (origin, ctx, p, l) = ((TestOrigin, HttpContext, string, AbortTrackingLifetimeFeature))state;
                if (!l.Aborted)
                {
                    origin._responses.AddOrUpdate((p, ctx.Response.StatusCode), 1, static (_, n) => n + 1);
                }

                return Task.CompletedTask;
            },
            (this, context, path, lifetime));

        byte[] body;
        try
        {
            body = await ReadBodyAsync(request, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or Microsoft.AspNetCore.Http.BadHttpRequestException)
        {
            context.Abort();
            return;
        }

        request.Body = new MemoryStream(body, writable: false);
        Record(new RecordedRequest(request.Method, path, request.QueryString.Value ?? string.Empty, CopyHeaders(request.Headers), body));

        if (_handlers.TryGetValue(path, out var handler))
        {
            await handler(context).ConfigureAwait(false);
            return;
        }

        await DispatchAsync(context, path).ConfigureAwait(false);
    }

    private void Record(RecordedRequest recorded)
    {
        lock (_recordedLock)
        {
            _recorded.Enqueue(recorded);
            while (_recorded.Count > MaxRecordedRequests)
            {
                _recorded.Dequeue();
            }
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0)
        {
            return [];
        }

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static Dictionary<string, string> CopyHeaders(IHeaderDictionary headers)
    {
        var copy = new Dictionary<string, string>(headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var header in headers)
        {
            copy[header.Key] = header.Value.ToString();
        }

        return copy;
    }

    private Task DispatchAsync(HttpContext context, string path)
    {
        var p = new PathString(path);
        if (p.StartsWithSegments("/echo", StringComparison.Ordinal))
        {
            return EchoAsync(context);
        }

        if (TrySegment(p, "/bytes", out var tail) && long.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            return BytesAsync(context, length, chunked: false);
        }

        if (TrySegment(p, "/stream", out tail) && long.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out length))
        {
            return BytesAsync(context, length, chunked: true);
        }

        if (TrySegment(p, "/status", out tail) && int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return StatusAsync(context, code);
        }

        if (TrySegment(p, "/redirect", out tail) && int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var hops))
        {
            return RedirectAsync(context, "/redirect/", hops, absolute: false);
        }

        if (TrySegment(p, "/absolute-redirect", out tail) && int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out hops))
        {
            return RedirectAsync(context, "/absolute-redirect/", hops, absolute: true);
        }

        if (path == "/redirect-to")
        {
            return RedirectToAsync(context);
        }

        if (TrySegment(p, "/cache", out tail) && int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return CacheAsync(context, path, seconds);
        }

        if (path == "/etag/rotating")
        {
            return RotatingETagAsync(context);
        }

        if (TrySegment(p, "/etag", out tail))
        {
            return FixedETagAsync(context, tail);
        }

        if (path == "/last-modified")
        {
            return LastModifiedAsync(context);
        }

        if (path == "/headers/set")
        {
            return SetHeadersAsync(context, path);
        }

        if (path == "/cookies/set")
        {
            return SetCookiesAsync(context);
        }

        if (path == "/cookies")
        {
            return CookiesAsync(context);
        }

        if (TrySegment(p, "/slow", out tail) && int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            return SlowAsync(context, ms);
        }

        if (path == "/drop")
        {
            context.Abort();
            return Task.CompletedTask;
        }

        if (TrySegment(p, "/drop-mid-body", out tail) && int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var dropLength))
        {
            return DropMidBodyAsync(context, dropLength);
        }

        if (path == "/vary")
        {
            return VaryAsync(context);
        }

        if (path == "/json")
        {
            return JsonAsync(context, path);
        }

        return WriteTextAsync(context, StatusCodes.Status404NotFound, "not found");
    }

    /// <summary>True when <paramref name="path"/> is exactly <paramref name="prefix"/> plus one non-empty segment.</summary>
    private static bool TrySegment(PathString path, string prefix, out string segment)
    {
        segment = string.Empty;
        if (!path.StartsWithSegments(prefix, StringComparison.Ordinal, out var remaining) || !remaining.HasValue)
        {
            return false;
        }

        var rest = remaining.Value!.AsSpan(1);
        if (rest.IsEmpty || rest.Contains('/'))
        {
            return false;
        }

        segment = rest.ToString();
        return true;
    }

    private int NextContentVersion(string path) => _contentCounters.AddOrUpdate(path, 1, static (_, n) => n + 1);

    private static Task EchoAsync(HttpContext context)
    {
        var request = context.Request;
        var method = request.Method;
        if (!(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsPost(method) || HttpMethods.IsPut(method)
            || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method)))
        {
            context.Response.Headers.Allow = "GET, HEAD, POST, PUT, PATCH, DELETE";
            return WriteTextAsync(context, StatusCodes.Status405MethodNotAllowed, "method not allowed");
        }

        var body = ((MemoryStream)request.Body).ToArray();
        return WriteJsonAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WriteString("method", request.Method);
            writer.WriteString("path", request.Path.Value);
            writer.WriteString("query", request.QueryString.Value ?? string.Empty);
            WriteHeaders(writer, request.Headers);
            writer.WriteString("body", Encoding.UTF8.GetString(body));
        });
    }

    private static async Task BytesAsync(HttpContext context, long length, bool chunked)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/octet-stream";
        if (!chunked)
        {
            response.ContentLength = length;
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        if (chunked)
        {
            // Commit the headers without a Content-Length, so even an empty stream is sent chunked.
            await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        }

        var seed = int.TryParse(context.Request.Query["seed"], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) ? s : 0;

        // The content repeats every 256 bytes, so every 4096-byte chunk is identical.
        var chunk = ExpectedBytes(ChunkSize, seed);
        var ct = context.RequestAborted;
        for (var remaining = length; remaining > 0; remaining -= ChunkSize)
        {
            var size = (int)Math.Min(remaining, ChunkSize);
            await response.Body.WriteAsync(chunk.AsMemory(0, size), ct).ConfigureAwait(false);
            if (chunked)
            {
                await response.Body.FlushAsync(ct).ConfigureAwait(false);
            }
        }
    }

    private static Task StatusAsync(HttpContext context, int code)
    {
        if (code is < 200 or > 599)
        {
            return WriteTextAsync(context, StatusCodes.Status400BadRequest, "status code must be 200-599");
        }

        if (code is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified)
        {
            context.Response.StatusCode = code;
            return Task.CompletedTask;
        }

        return WriteTextAsync(context, code, "status " + code.ToString(CultureInfo.InvariantCulture));
    }

    private static Task RedirectAsync(HttpContext context, string prefix, int hops, bool absolute)
    {
        var request = context.Request;
        if (hops <= 0)
        {
            return WriteJsonAsync(context, StatusCodes.Status200OK, writer =>
            {
                writer.WriteString("url", AbsoluteRequestUrl(request));
                writer.WriteString("method", request.Method);
                writer.WriteString("path", request.Path.Value);
                writer.WriteString("query", request.QueryString.Value ?? string.Empty);
                WriteHeaders(writer, request.Headers);
            });
        }

        if (!TryGetRedirectStatus(request, out var status))
        {
            return WriteTextAsync(context, StatusCodes.Status400BadRequest, "status_code must be 300-399");
        }

        var location = prefix + (hops - 1).ToString(CultureInfo.InvariantCulture) + request.QueryString.Value;
        if (absolute)
        {
            location = request.Scheme + "://" + request.Host.Value + location;
        }

        context.Response.Headers.Location = location;
        return WriteTextAsync(context, status, "redirect to " + location);
    }

    private static Task RedirectToAsync(HttpContext context)
    {
        var url = context.Request.Query["url"].ToString();
        if (string.IsNullOrEmpty(url))
        {
            return WriteTextAsync(context, StatusCodes.Status400BadRequest, "url is required");
        }

        if (!TryGetRedirectStatus(context.Request, out var status))
        {
            return WriteTextAsync(context, StatusCodes.Status400BadRequest, "status_code must be 300-399");
        }

        context.Response.Headers.Location = url;
        return WriteTextAsync(context, status, "redirect to " + url);
    }

    private static bool TryGetRedirectStatus(HttpRequest request, out int status)
    {
        status = StatusCodes.Status302Found;
        var value = request.Query["status_code"];
        if (StringValues.IsNullOrEmpty(value))
        {
            return true;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out status) && status is >= 300 and <= 399;
    }

    private Task CacheAsync(HttpContext context, string path, int seconds)
    {
        var response = context.Response;
        var etag = new EntityTagHeaderValue("\"v1-" + path + "\"");
        response.Headers.CacheControl = "max-age=" + seconds.ToString(CultureInfo.InvariantCulture);
        response.Headers.ETag = etag.ToString();
        if (IsNotModified(context.Request, etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        var version = NextContentVersion(path);
        return WriteTextAsync(context, StatusCodes.Status200OK, path + " #" + version.ToString(CultureInfo.InvariantCulture));
    }

    private Task RotatingETagAsync(HttpContext context)
    {
        var version = Interlocked.Increment(ref _rotatingVersion).ToString(CultureInfo.InvariantCulture);
        return ValidatedAsync(context, new EntityTagHeaderValue("\"r" + version + "\""), "version " + version);
    }

    private static Task FixedETagAsync(HttpContext context, string tag)
    {
        var raw = tag.StartsWith('"') || tag.StartsWith("W/\"", StringComparison.Ordinal) ? tag : "\"" + tag + "\"";
        if (!EntityTagHeaderValue.TryParse(raw, out var etag))
        {
            return WriteTextAsync(context, StatusCodes.Status400BadRequest, "invalid etag");
        }

        return ValidatedAsync(context, etag, "etag " + tag);
    }

    private static Task VaryAsync(HttpContext context)
    {
        var by = context.Request.Query["by"].ToString();
        if (string.IsNullOrEmpty(by))
        {
            by = HeaderNames.AcceptLanguage;
        }

        var value = context.Request.Headers[by].ToString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));
        context.Response.Headers.Vary = by;
        return ValidatedAsync(context, new EntityTagHeaderValue("\"vary-" + hash + "\""), value);
    }

    /// <summary>Sends an ETag-validated text response, or 304 when <c>If-None-Match</c> matches.</summary>
    private static Task ValidatedAsync(HttpContext context, EntityTagHeaderValue etag, string body)
    {
        var response = context.Response;
        ApplyCacheControlQuery(context);
        response.Headers.ETag = etag.ToString();
        if (IsNotModified(context.Request, etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        return WriteTextAsync(context, StatusCodes.Status200OK, body);
    }

    private Task LastModifiedAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        ApplyCacheControlQuery(context);
        response.GetTypedHeaders().LastModified = LastModified;

        // RFC 9110 13.1.3: If-Modified-Since is ignored when If-None-Match is present, and only applies to GET/HEAD.
        var since = request.GetTypedHeaders().IfModifiedSince;
        if (IsGetOrHead(request) && StringValues.IsNullOrEmpty(request.Headers.IfNoneMatch) && since is { } s && s >= LastModified)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        return WriteTextAsync(context, StatusCodes.Status200OK, "last-modified");
    }

    private Task SetHeadersAsync(HttpContext context, string path)
    {
        var response = context.Response;
        foreach (var (name, values) in context.Request.Query)
        {
            if (string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
                || string.Equals(name, HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            response.Headers.Append(name, values);
        }

        var contentType = response.Headers.ContentType.ToString();
        response.Headers.Remove(HeaderNames.ContentType);
        var body = "ok " + NextContentVersion(path).ToString(CultureInfo.InvariantCulture);
        return WriteBytesAsync(
            context,
            StatusCodes.Status200OK,
            string.IsNullOrEmpty(contentType) ? "text/plain; charset=utf-8" : contentType,
            Encoding.UTF8.GetBytes(body));
    }

    private static Task SetCookiesAsync(HttpContext context)
    {
        var response = context.Response;
        var options = new CookieOptions { Path = "/" };
        foreach (var (name, values) in context.Request.Query)
        {
            foreach (var value in values)
            {
                response.Cookies.Append(name, value ?? string.Empty, options);
            }
        }

        return WriteJsonAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WriteStartObject("cookies");
            foreach (var (name, values) in context.Request.Query)
            {
                writer.WriteString(name, values.Count > 0 ? values[^1] : string.Empty);
            }

            writer.WriteEndObject();
        });
    }

    private static Task CookiesAsync(HttpContext context)
    {
        var request = context.Request;
        return WriteJsonAsync(context, StatusCodes.Status200OK, writer =>
        {
            var raw = request.Headers.Cookie;
            if (StringValues.IsNullOrEmpty(raw))
            {
                writer.WriteNull("cookie");
            }
            else
            {
                writer.WriteString("cookie", string.Join("; ", raw.ToArray()));
            }

            writer.WriteStartObject("cookies");
            foreach (var (name, value) in request.Cookies)
            {
                writer.WriteString(name, value);
            }

            writer.WriteEndObject();
        });
    }

    private async Task SlowAsync(HttpContext context, int milliseconds)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            await Task.Delay(milliseconds, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client went away or the origin is stopping: never pretend the wait completed.
            context.Abort();
            return;
        }

        await WriteTextAsync(context, StatusCodes.Status200OK, "slow").ConfigureAwait(false);
    }

    private static async Task DropMidBodyAsync(HttpContext context, int length)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/octet-stream";
        response.ContentLength = length;
        var ct = context.RequestAborted;
        await response.StartAsync(ct).ConfigureAwait(false);
        var half = ExpectedBytes(length / 2);
        if (half.Length > 0)
        {
            await response.Body.WriteAsync(half, ct).ConfigureAwait(false);
            await response.Body.FlushAsync(ct).ConfigureAwait(false);

            // Returning with fewer bytes than Content-Length makes Kestrel close the connection once everything written so
            // far has been sent. HttpContext.Abort() here would instead discard output still queued in the transport, so the
            // client would often not even get the headers.
            return;
        }

        // Nothing to send before the drop (n < 2): Kestrel would keep the connection open waiting for the body, so abort
        // it, after giving the transport a moment to send the headers.
        await response.Body.FlushAsync(ct).ConfigureAwait(false);
        await Task.Delay(50, ct).ConfigureAwait(false);
        context.Abort();
    }

    private Task JsonAsync(HttpContext context, string path)
    {
        var count = NextContentVersion(path);
        return WriteJsonAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WriteString("message", "hello from TestOrigin");
            writer.WriteNumber("count", count);
            writer.WriteStartArray("items");
            writer.WriteNumberValue(1);
            writer.WriteNumberValue(2);
            writer.WriteNumberValue(3);
            writer.WriteEndArray();
            writer.WriteStartObject("nested");
            writer.WriteBoolean("ok", true);
            writer.WriteEndObject();
        });
    }

    private static void ApplyCacheControlQuery(HttpContext context)
    {
        var cc = context.Request.Query["cc"];
        if (!StringValues.IsNullOrEmpty(cc))
        {
            context.Response.Headers.CacheControl = cc;
        }
    }

    private static bool IsGetOrHead(HttpRequest request) => HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);

    /// <summary>RFC 9110 13.1.2: weak comparison against every entity tag in If-None-Match (or <c>*</c>), GET/HEAD only.</summary>
    private static bool IsNotModified(HttpRequest request, EntityTagHeaderValue current)
    {
        if (!IsGetOrHead(request) || StringValues.IsNullOrEmpty(request.Headers.IfNoneMatch))
        {
            return false;
        }

        foreach (var candidate in request.GetTypedHeaders().IfNoneMatch)
        {
            if (candidate.Equals(EntityTagHeaderValue.Any) || candidate.Compare(current, useStrongComparison: false))
            {
                return true;
            }
        }

        return false;
    }

    private static string AbsoluteRequestUrl(HttpRequest request) =>
        request.Scheme + "://" + request.Host.Value + request.PathBase.Value + request.Path.Value + request.QueryString.Value;

    private static void WriteHeaders(Utf8JsonWriter writer, IHeaderDictionary headers)
    {
        writer.WriteStartObject("headers");
        foreach (var header in headers)
        {
            writer.WriteString(header.Key, header.Value.ToString());
        }

        writer.WriteEndObject();
    }

    private static Task WriteJsonAsync(HttpContext context, int statusCode, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return WriteBytesAsync(context, statusCode, "application/json; charset=utf-8", buffer.WrittenMemory);
    }

    private static Task WriteTextAsync(HttpContext context, int statusCode, string text) =>
        WriteBytesAsync(context, statusCode, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    private static async Task WriteBytesAsync(HttpContext context, int statusCode, string contentType, ReadOnlyMemory<byte> body)
    {
        var response = context.Response;
        response.StatusCode = statusCode;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }
}

/// <summary>Records whether the application aborted the request (e.g. via <see cref="HttpContext.Abort"/>).</summary>
internal sealed class AbortTrackingLifetimeFeature(IHttpRequestLifetimeFeature inner) : IHttpRequestLifetimeFeature
{
    private volatile bool _aborted;

    /// <summary>True once <see cref="Abort"/> has been called or the client has gone away.</summary>
    public bool Aborted => _aborted || inner.RequestAborted.IsCancellationRequested;

    /// <inheritdoc />
    public CancellationToken RequestAborted
    {
        get => inner.RequestAborted;
        set => inner.RequestAborted = value;
    }

    /// <inheritdoc />
    public void Abort()
    {
        _aborted = true;
        inner.Abort();
    }
}

/// <summary>A request received by a <see cref="TestOrigin"/>.</summary>
public sealed class RecordedRequest
{
    /// <summary>Creates a record.</summary>
    /// <param name="method">The HTTP method.</param>
    /// <param name="path">The path, without query string.</param>
    /// <param name="query">The query string including its leading <c>?</c>, or empty.</param>
    /// <param name="headers">The request headers (repeated values joined with <c>", "</c>).</param>
    /// <param name="body">The request body (empty when there was none).</param>
    public RecordedRequest(string method, string path, string query, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        Method = method;
        Path = path;
        Query = query;
        Headers = headers;
        Body = body;
        ReceivedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>The HTTP method, e.g. <c>GET</c>.</summary>
    public string Method { get; }

    /// <summary>The path, without query string, e.g. <c>/cache/60</c>.</summary>
    public string Path { get; }

    /// <summary>The query string including its leading <c>?</c>, e.g. <c>?a=1</c>; empty when there was none.</summary>
    public string Query { get; }

    /// <summary>The request headers by name (case-insensitive); repeated values are joined with <c>", "</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The request body bytes (empty when there was none).</summary>
    public byte[] Body { get; }

    /// <summary>The body decoded as UTF-8.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>When the origin finished reading the request (UTC).</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>A header value, or <see langword="null"/> when the request did not carry it.</summary>
    /// <param name="name">The header name (case-insensitive).</param>
    /// <returns>The value, repeated values joined with <c>", "</c>.</returns>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <inheritdoc />
    public override string ToString() => Method + " " + Path + Query;
}
