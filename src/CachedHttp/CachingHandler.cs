using System.Net;
using CachedHttp.Internal;
using CachedHttp.Policy;

namespace CachedHttp;

/// <summary>
/// A <see cref="DelegatingHandler"/> that caches responses in a <see cref="CacheBackend"/>: the whole request path
/// of caching. Use it in any <see cref="HttpClient"/>, in an <c>IHttpClientFactory</c> pipeline, or through
/// <see cref="CachedSession"/>.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe and stateless apart from the backend it shares, so handlers can be created and rotated freely
/// (as <c>IHttpClientFactory</c> does). Both <see cref="SendAsync"/> and the synchronous <see cref="Send"/> cache.
/// </para>
/// <para>
/// A storage failure never fails a request: it is logged and counted, and the request goes to the network.
/// </para>
/// <para>
/// Place it above the handler that talks to the network. When that handler follows redirects itself, the cache
/// sees only the final response (one alias for the original URL); <see cref="CreateDefaultInnerHandler"/> does not
/// follow redirects, so that this handler can and record one alias per hop.
/// </para>
/// </remarks>
public partial class CachingHandler : DelegatingHandler
{
    private static readonly string[] NotModifiedFields = ["Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary"];

    private readonly AsyncLocal<bool> _disabled = new();
    private CookieContainer? _cookies;
    private bool _cookiesResolved;

    /// <summary>Initializes a handler over <see cref="CreateDefaultInnerHandler"/>, following redirects itself.</summary>
    /// <param name="cache">The backend; shared, not disposed by the handler.</param>
    public CachingHandler(CacheBackend cache)
        : base(CreateDefaultInnerHandler())
    {
        ArgumentNullException.ThrowIfNull(cache);
        Cache = cache;
        FollowRedirects = true;
    }

    /// <summary>Initializes a handler over the given inner handler.</summary>
    /// <param name="cache">The backend; shared, not disposed by the handler.</param>
    /// <param name="innerHandler">The handler that sends requests to the network; disposed with this handler.</param>
    public CachingHandler(CacheBackend cache, HttpMessageHandler innerHandler)
        : base(innerHandler)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(innerHandler);
        Cache = cache;
    }

    /// <summary>Initializes a handler without an inner handler, for <c>IHttpClientFactory</c>, which sets <see cref="DelegatingHandler.InnerHandler"/>.</summary>
    /// <param name="cache">The backend; shared, not disposed by the handler.</param>
    /// <param name="followRedirects">Whether this handler follows redirects (set it when the primary handler does not).</param>
    public CachingHandler(CacheBackend cache, bool followRedirects)
    {
        ArgumentNullException.ThrowIfNull(cache);
        Cache = cache;
        FollowRedirects = followRedirects;
    }

    /// <summary>Gets the backend.</summary>
    public CacheBackend Cache { get; }

    /// <summary>
    /// Gets or sets a value indicating whether this handler follows redirects (301, 302, 303, 307, 308) itself and stores
    /// an alias for each hop. Leave it off when the inner handler follows redirects.
    /// </summary>
    /// <value>The default value is <see langword="true"/> with the default inner handler, <see langword="false"/> otherwise.</value>
    public bool FollowRedirects { get; set; }

    /// <summary>Gets or sets the largest number of redirects followed.</summary>
    /// <value>The default value is 50, as <see cref="HttpClientHandler.MaxAutomaticRedirections"/>.</value>
    public int MaxRedirects { get; set; } = 50;

    /// <summary>Gets a value indicating whether caching is disabled in the current asynchronous flow (see <see cref="Disable"/>).</summary>
    public bool IsDisabled => _disabled.Value;

    /// <summary>
    /// Creates the inner handler that <see cref="CachedSession"/> uses: a <see cref="SocketsHttpHandler"/> that
    /// decompresses, keeps cookies, and does not follow redirects (the caching handler does, to alias each hop).
    /// </summary>
    public static SocketsHttpHandler CreateDefaultInnerHandler() => new()
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.All,
        UseCookies = true,
        CookieContainer = new CookieContainer(),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    };

    /// <summary>
    /// Turns caching off for the calls made in the current asynchronous flow until the returned scope is disposed
    /// (also when the block throws). Other flows, and other handlers sharing the backend, keep caching.
    /// </summary>
    public IDisposable Disable()
    {
        var previous = _disabled.Value;
        _disabled.Value = true;
        return new Scope(this, previous);
    }

    /// <inheritdoc />
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        => SendCoreAsync(request, sync: false, cancellationToken);

    /// <inheritdoc />
    /// <remarks>The synchronous path caches too; storage calls complete synchronously or are waited for.</remarks>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        => SendCoreAsync(request, sync: true, cancellationToken).GetAwaiter().GetResult();

    private async Task<HttpResponseMessage> SendCoreAsync(HttpRequestMessage request, bool sync, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = Cache.Options;
        if (request.RequestUri is not { IsAbsoluteUri: true })
        {
            return Finish(await SendInnerAsync(request, sync, cancellationToken).ConfigureAwait(false), CacheStatus.Bypassed, null, null);
        }

        if (IsDisabled)
        {
            return Finish(await SendBypassingAsync(request, sync, cancellationToken).ConfigureAwait(false), CacheStatus.Bypassed, null, null);
        }

        var settings = ReadSettings(request);
        var actions = CachePolicy.ForRequest(request, options, settings);
        if (!options.AllowedMethods.Contains(request.Method.Method) || (actions.SkipRead && actions.SkipWrite && !actions.OnlyIfCached))
        {
            var target = request.RequestUri;
            var passed = await SendBypassingAsync(request, sync, cancellationToken).ConfigureAwait(false);
            if (options.CacheControl && IsUnsafe(request.Method) && (int)passed.StatusCode < 400)
            {
                await InvalidateAsync(request, target, passed, cancellationToken).ConfigureAwait(false);
            }

            return Finish(passed, CacheStatus.Bypassed, null, null);
        }

        // A conditional request of the caller's own: in CacheControl mode the cache evaluates If-None-Match /
        // If-Modified-Since itself against a fresh stored response (§4.3.2); any other precondition is the origin's.
        var callerConditional = CachePolicy.HasConditionalHeader(request.Headers);
        if (callerConditional && !(options.CacheControl && CachePolicy.CanEvaluatePreconditions(request.Method.Method, request.Headers.NonValidated.Contains)))
        {
            actions = actions with { SkipRead = true };
        }

        string key;
        try
        {
            if (request.Content is not null)
            {
                await request.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            }

            key = Cache.CreateKey(request);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "key");
            return Finish(await SendBypassingAsync(request, sync, cancellationToken).ConfigureAwait(false), CacheStatus.Bypassed, null, null);
        }

        CachedResponse? stored = null;
        var use = StoredUse.Unusable;
        if (!actions.SkipRead)
        {
            stored = await SafeLookupAsync(key, request, cancellationToken).ConfigureAwait(false);
            if (stored is not null)
            {
                use = CachePolicy.Evaluate(stored, actions, options, Cache.Now);
                if (use == StoredUse.StaleWhileRevalidate && !actions.OnlyIfCached)
                {
                    // RFC 5861 §3: serve now, revalidate in the background (not for only-if-cached: no origin contact).
                    StartBackgroundRevalidation(request, key, stored, actions);
                }

                switch (use)
                {
                    case StoredUse.Fresh:
                        return callerConditional ? AnswerPreconditions(stored, request, key, CacheStatus.Hit) : Serve(stored, request, key, CacheStatus.Hit);
                    case StoredUse.StaleAllowed:
                    case StoredUse.StaleWhileRevalidate:
                        return callerConditional ? AnswerPreconditions(stored, request, key, CacheStatus.Stale) : Serve(stored, request, key, CacheStatus.Stale);
                }
            }
        }

        if (actions.OnlyIfCached)
        {
            // §5.2.1.7: nothing suitable is stored.
            return Finish(new HttpResponseMessage(HttpStatusCode.GatewayTimeout) { RequestMessage = request, Content = new ByteArrayContent([]) }, CacheStatus.OnlyIfCachedMiss, key, null);
        }

        if (callerConditional)
        {
            // §4.3.2: nothing fresh answers it: forward the caller's conditional request as it is; a 304 it gets may
            // still freshen the stored response (§4.3.4). Never coalesced: its answer (a 304) is for this caller only.
            return await FetchAsync(request, key, actions, stored, use, flight: null, sync, cancellationToken, callerConditional: true).ConfigureAwait(false);
        }

        // A range request is not coalesced in CacheControl mode: a 206 answers only the range asked for.
        if (!options.CoalesceRequests || actions.SkipRead || (options.CacheControl && request.Headers.NonValidated.Contains("Range")))
        {
            return await FetchAsync(request, key, actions, stored, use, flight: null, sync, cancellationToken).ConfigureAwait(false);
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var flight = InFlight.Join(Cache.InFlight, key, out var isLeader);
            if (isLeader)
            {
                // A previous leader may have stored the response between our lookup and now.
                if (attempt > 0 || stored is null)
                {
                    var again = await SafeLookupAsync(key, request, cancellationToken).ConfigureAwait(false);
                    if (again is not null && CachePolicy.Evaluate(again, actions, options, Cache.Now) == StoredUse.Fresh)
                    {
                        flight.Complete(new FlightResult(again, null));
                        return Serve(again, request, key, CacheStatus.Hit);
                    }
                }

                return await FetchAsync(request, key, actions, stored, use, flight, sync, cancellationToken).ConfigureAwait(false);
            }

            var result = sync
                ? flight.Result.WaitAsync(cancellationToken).GetAwaiter().GetResult()
                : await flight.Result.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (result.Error is { } error)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }

            // In CacheControl mode a shared response is reused only if it is fresh for this request too (§4).
            if (result.Response is { } shared && (shared.VaryValues.Count == 0 || VaryMatches(request, shared, options))
                && (!options.CacheControl || CachePolicy.Evaluate(shared, actions, options, Cache.Now) == StoredUse.Fresh))
            {
                return Serve(shared, request, key, CacheStatus.Hit);
            }
        }

        return await FetchAsync(request, key, actions, stored, use, flight: null, sync, cancellationToken).ConfigureAwait(false);
    }

    private static bool VaryMatches(HttpRequestMessage request, CachedResponse shared, CacheOptions options)
    {
        var values = CacheBackend.VaryValuesOf(request, shared.VaryValues.Select(v => v.Key), options);
        return CacheBackend.VariantKey(string.Empty, values) == CacheBackend.VariantKey(string.Empty, shared.VaryValues);
    }

    private static RequestSettings ReadSettings(HttpRequestMessage request)
    {
        var options = request.Options;
        options.TryGetValue(HttpRequestMessageCacheExtensions.ExpireAfterKey, out var expireAfter);
        options.TryGetValue(HttpRequestMessageCacheExtensions.RefreshKey, out var refresh);
        options.TryGetValue(HttpRequestMessageCacheExtensions.ForceRefreshKey, out var forceRefresh);
        options.TryGetValue(HttpRequestMessageCacheExtensions.OnlyIfCachedKey, out var onlyIfCached);
        return expireAfter is null && !refresh && !forceRefresh && !onlyIfCached
            ? RequestSettings.None
            : new RequestSettings(expireAfter, refresh, forceRefresh, onlyIfCached);
    }

    private static bool IsUnsafe(HttpMethod method)
        => method != HttpMethod.Get && method != HttpMethod.Head && method != HttpMethod.Options && method != HttpMethod.Trace;

    private HttpResponseMessage Serve(CachedResponse stored, HttpRequestMessage request, string key, CacheStatus status, bool revalidated = false)
    {
        RestoreCookies(stored);
        if (stored.History.Count > 0)
        {
            // As on the live response (and as SocketsHttpHandler does): the request names the final URL of the redirects.
            request.RequestUri = stored.Url;
        }

        var response = stored.ToHttpResponseMessage(request);
        var now = Cache.Now;
        if (Cache.Options.CacheControl)
        {
            // §5.1: the Age of a served response is its current age.
            response.Headers.Remove("Age");
            response.Headers.TryAddWithoutValidation("Age", ((long)CachePolicy.CurrentAge(stored, now).TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return Finish(response, status, key, new CacheInfo(status, key, stored.CreatedAt, stored.ExpiresAt, stored.IsExpired(now), revalidated, true));
    }

    /// <summary>
    /// §4.3.2: answers a caller's own If-None-Match / If-Modified-Since from a usable stored response: a 304 when the
    /// preconditions say "not modified", else the stored response itself.
    /// </summary>
    private HttpResponseMessage AnswerPreconditions(CachedResponse stored, HttpRequestMessage request, string key, CacheStatus status)
    {
        var outcome = CachePolicy.EvaluatePreconditions(
            HeaderConversions.GetJoined(request, "If-None-Match"), HeaderConversions.GetJoined(request, "If-Modified-Since"), stored);
        if (outcome != PreconditionOutcome.NotModified)
        {
            return Serve(stored, request, key, status);
        }

        var notModified = new HttpResponseMessage(HttpStatusCode.NotModified) { Version = stored.Version, RequestMessage = request, Content = new ByteArrayContent([]) };

        // RFC 9110 §15.4.5: a 304 carries the fields a 200 would have that guide caches; nothing else about the content.
        foreach (var name in NotModifiedFields)
        {
            if (stored.Headers.TryGetValues(name, out var values) || stored.ContentHeaders.TryGetValues(name, out values))
            {
                if (!notModified.Headers.TryAddWithoutValidation(name, values))
                {
                    notModified.Content.Headers.TryAddWithoutValidation(name, values);
                }
            }
        }

        // §5.1: the Age of a response served from the cache.
        notModified.Headers.TryAddWithoutValidation("Age", ((long)CachePolicy.CurrentAge(stored, Cache.Now).TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Finish(notModified, status, key, new CacheInfo(status, key, stored.CreatedAt, stored.ExpiresAt, stored.IsExpired(Cache.Now), false, true));
    }

    private HttpResponseMessage Finish(HttpResponseMessage response, CacheStatus status, string? key, CacheInfo? info)
    {
        response.SetCacheInfo(info ?? new CacheInfo(status, key, null, null, false, false, false));
        var result = status switch
        {
            CacheStatus.Hit => "hit",
            CacheStatus.Miss => "miss",
            CacheStatus.Stale => "stale",
            CacheStatus.Revalidated => "revalidated",
            CacheStatus.OnlyIfCachedMiss => "only-if-cached-miss",
            _ => "bypassed",
        };
        CacheMetrics.Request(result, Cache.Name);
        if (key is not null)
        {
            Log.Result(Cache.Logger, result, response.RequestMessage?.Method.Method ?? string.Empty, response.RequestMessage?.RequestUri, key);
        }

        return response;
    }

    private async ValueTask<CachedResponse?> SafeLookupAsync(string key, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var started = CacheMetrics.StartTimestamp();
        using var activity = CacheActivitySource.StartStorage("read", Cache.Name);
        try
        {
            return (await Cache.LookupAsync(key, request, cancellationToken).ConfigureAwait(false)).Response;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            CacheActivitySource.Failed(activity, ex);
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "read");
            CacheMetrics.StorageError(Cache.Name, "read");
            return null;
        }
        finally
        {
            CacheMetrics.Duration(Cache.Name, "read", started);
        }
    }

    private async ValueTask<bool> SafeSaveAsync(string key, CachedResponse response, DateTimeOffset? deleteAfter)
    {
        var started = CacheMetrics.StartTimestamp();
        using var activity = CacheActivitySource.StartStorage("write", Cache.Name);
        try
        {
            // Not the caller's token: a response the caller has finished reading is stored even if it then cancels.
            await Cache.SaveAsync(key, response, deleteAfter, CancellationToken.None).ConfigureAwait(false);
            CacheMetrics.Stored(Cache.Name, response.Body.Length);
            return true;
        }
        catch (Exception ex)
        {
            CacheActivitySource.Failed(activity, ex);
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "write");
            CacheMetrics.StorageError(Cache.Name, "write");
            return false;
        }
        finally
        {
            CacheMetrics.Duration(Cache.Name, "write", started);
        }
    }

    /// <summary>Sends without caching, still following redirects when this handler does (the inner handler does not).</summary>
    private async Task<HttpResponseMessage> SendBypassingAsync(HttpRequestMessage request, bool sync, CancellationToken cancellationToken)
        => (await SendFollowingRedirectsAsync(request, sync, cancellationToken).ConfigureAwait(false)).Response;

    private async Task<HttpResponseMessage> SendInnerAsync(HttpRequestMessage request, bool sync, CancellationToken cancellationToken)
        => sync ? base.Send(request, cancellationToken) : await base.SendAsync(request, cancellationToken).ConfigureAwait(false);

    private void RestoreCookies(CachedResponse stored)
    {
        var container = FindCookieContainer();
        if (container is null)
        {
            return;
        }

        foreach (var hop in stored.History)
        {
            SetCookies(container, hop.Url, hop.SetCookie);
        }

        if (stored.Headers.TryGetValues("Set-Cookie", out var values))
        {
            SetCookies(container, stored.Url, values);
        }
    }

    private static void SetCookies(CookieContainer container, Uri url, IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            try
            {
                container.SetCookies(url, value);
            }
            catch (CookieException)
            {
                // A cookie the container rejects now was rejected when it was first received too.
            }
        }
    }

    private CookieContainer? FindCookieContainer()
    {
        if (_cookiesResolved)
        {
            return _cookies;
        }

        var handler = InnerHandler;
        while (handler is not null)
        {
            switch (handler)
            {
                case SocketsHttpHandler sockets:
                    _cookies = sockets.UseCookies ? sockets.CookieContainer : null;
                    handler = null;
                    break;
                case HttpClientHandler client:
                    _cookies = client.UseCookies ? client.CookieContainer : null;
                    handler = null;
                    break;
                case DelegatingHandler delegating:
                    handler = delegating.InnerHandler;
                    break;
                default:
                    handler = null;
                    break;
            }
        }

        _cookiesResolved = InnerHandler is not null;
        return _cookies;
    }

    private sealed class Scope(CachingHandler owner, bool previous) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner._disabled.Value = previous;
            }
        }
    }
}
