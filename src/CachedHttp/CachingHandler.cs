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
/// A storage failure never fails a request: it is logged and counted, and the request goes to the network. So does a
/// storage operation that exceeds <see cref="CacheOptions.StorageTimeout"/>, and while the backend's circuit breaker is
/// open (<see cref="CacheOptions.CircuitBreaker"/>) requests do not call the storage at all. Such a response has the
/// status <see cref="CacheStatus.Bypassed"/> and is not stored.
/// </para>
/// <para>
/// Place it above the handler that talks to the network. When that handler follows redirects itself, the cache
/// sees only the final response (one alias for the original URL); <see cref="CreateDefaultInnerHandler"/> does not
/// follow redirects, so that this handler can and record one alias per hop.
/// </para>
/// </remarks>
public partial class CachingHandler : DelegatingHandler
{
    private static readonly HttpRequestOptionsKey<bool> StorageBypassedKey = new("CachedHttp.StorageBypassed");

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
        // As on the live response (and as SocketsHttpHandler does): the request names the final URL of the redirects, with
        // the caller's own secret parameters in place of the stored REDACTED ones (kept as it is when they cannot be).
        if (stored.History.Count > 0
            && Secrets.RestoreUrl(stored.Url.OriginalString, request.RequestUri!.OriginalString, Cache.Options.SecretParameters) is { } finalUrl)
        {
            request.RequestUri = ReferenceEquals(finalUrl, stored.Url.OriginalString) ? stored.Url : new Uri(finalUrl);
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

    /// <summary>
    /// Looks a key up, failing open (see <see cref="CacheBackend.CallStorageAsync"/>): <see langword="null"/> when nothing
    /// usable is stored, and also when the storage is skipped, fails or times out, which marks <paramref name="owner"/>'s
    /// storage as bypassed.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="request">The request that selects a Vary variant.</param>
    /// <param name="owner">The request being answered, whose storage calls stop after one fails; <paramref name="request"/> when null.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    private async ValueTask<CachedResponse?> SafeLookupAsync(string key, HttpRequestMessage request, CancellationToken cancellationToken, HttpRequestMessage? owner = null)
    {
        owner ??= request;
        if (IsStorageBypassed(owner))
        {
            return null;
        }

        var (succeeded, found) = await Cache.CallStorageAsync(
            "read", (key, request), static (cache, state, token) => cache.LookupAsync(state.key, state.request, token), cancellationToken).ConfigureAwait(false);
        if (!succeeded)
        {
            BypassStorage(owner);
        }

        return found.Response;
    }

    /// <summary>Saves a response, failing open; nothing is tried once a storage call of <paramref name="owner"/> has failed.</summary>
    private async ValueTask<bool> SafeSaveAsync(string key, CachedResponse response, DateTimeOffset? deleteAfter, HttpRequestMessage owner)
    {
        if (IsStorageBypassed(owner))
        {
            return false;
        }

        // Not the caller's token: a response the caller has finished reading is stored even if it then cancels.
        var (succeeded, written) = await Cache.CallStorageAsync(
            "write",
            (key, response, deleteAfter),
            static (cache, state, token) => cache.SaveAsync(state.key, state.response, state.deleteAfter, token),
            CancellationToken.None).ConfigureAwait(false);
        if (!succeeded)
        {
            BypassStorage(owner);
            return false;
        }

        if (written)
        {
            CacheMetrics.Stored(Cache.Name, response.Body.Length); // not for an entry over MaxEntryBytes
        }

        return written;
    }

    /// <summary>
    /// Whether a storage call of this request was skipped, failed or timed out: the rest of the request then leaves the
    /// storage alone (a hung storage costs one timeout per request, not one per call) and its response is not stored.
    /// </summary>
    private static bool IsStorageBypassed(HttpRequestMessage request)
        => request.Options.TryGetValue(StorageBypassedKey, out var bypassed) && bypassed;

    private static void BypassStorage(HttpRequestMessage request) => request.Options.Set(StorageBypassedKey, true);

    /// <summary>A live response's status: a miss, or bypassed when the storage could not be used for this request.</summary>
    private static CacheStatus MissOrBypassed(HttpRequestMessage request) => IsStorageBypassed(request) ? CacheStatus.Bypassed : CacheStatus.Miss;

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
