namespace CachedHttp;

/// <summary>
/// A drop-in <see cref="HttpClient"/> that caches responses: every entry point (<c>GetAsync</c>,
/// <c>GetStringAsync</c>, <c>GetFromJsonAsync</c>, <c>SendAsync</c>, synchronous <c>Send</c>, …) goes through a
/// <see cref="CachingHandler"/>.
/// </summary>
/// <remarks>
/// <para>
/// It adds convenience members only: the caching itself lives in <see cref="Handler"/>, so it works the same in
/// any <see cref="HttpClient"/> or <c>IHttpClientFactory</c> pipeline. Thread-safe like <see cref="HttpClient"/>.
/// </para>
/// <para>
/// Disposal: the handler chain is disposed when <c>disposeHandler</c> is true (the default). The backend is disposed
/// when the session created it, or when its <see cref="CacheBackend.AutoClose"/> is on (the default for SQLite and
/// files), as in the original library. A session over an existing pipeline
/// (<see cref="CachedSession(HttpMessageHandler, bool)"/>) never disposes the backend.
/// </para>
/// </remarks>
public class CachedSession : HttpClient, IAsyncDisposable
{
    private readonly bool _ownsCache;
    private readonly bool _closesCache;
    private int _disposed;

    /// <summary>Initializes a session with a new in-memory backend and the default inner handler.</summary>
    public CachedSession()
        : this(new CachingHandler(new CacheBackend()), disposeHandler: true, ownsCache: true)
    {
    }

    /// <summary>Initializes a session over a backend.</summary>
    /// <param name="cache">The backend (may be shared with other sessions).</param>
    /// <param name="innerHandler">
    /// The handler that sends requests; when null, <see cref="CachingHandler.CreateDefaultInnerHandler"/> and the caching
    /// handler follows redirects itself (one alias per hop).
    /// </param>
    /// <param name="disposeHandler">Whether disposing the session disposes the handlers.</param>
    public CachedSession(CacheBackend cache, HttpMessageHandler? innerHandler = null, bool disposeHandler = true)
        : this(CreateHandler(cache, innerHandler), disposeHandler, ownsCache: false)
    {
    }

    /// <summary>
    /// Initializes a session over an existing handler pipeline that contains a <see cref="CachingHandler"/>, such as
    /// one from <c>IHttpMessageHandlerFactory.CreateHandler(name)</c> or a caching handler built by hand.
    /// </summary>
    /// <param name="handler">
    /// The top of the pipeline; the first <see cref="CachingHandler"/> found by following
    /// <see cref="DelegatingHandler.InnerHandler"/> from it becomes <see cref="Handler"/>.
    /// </param>
    /// <param name="disposeHandler">
    /// Whether disposing the session disposes the pipeline; pass <see langword="false"/> for a pipeline that someone else
    /// manages (the factory's).
    /// </param>
    /// <remarks>
    /// The session never disposes the backend, whatever <see cref="CacheBackend.AutoClose"/> says: a pipeline's backend
    /// belongs to whoever built the pipeline (a dependency-injection container disposes its singletons itself).
    /// </remarks>
    /// <exception cref="ArgumentException">No <see cref="CachingHandler"/> is in the pipeline.</exception>
    public CachedSession(HttpMessageHandler handler, bool disposeHandler)
        : this(handler, FindCachingHandler(handler), disposeHandler, ownsCache: false, closesCache: false)
    {
    }

    private CachedSession(CachingHandler handler, bool disposeHandler, bool ownsCache)
        : this(handler, handler, disposeHandler, ownsCache, closesCache: true)
    {
    }

    private CachedSession(HttpMessageHandler pipeline, CachingHandler handler, bool disposeHandler, bool ownsCache, bool closesCache)
        : base(pipeline, disposeHandler)
    {
        Handler = handler;
        Cache = handler.Cache;
        _ownsCache = ownsCache;
        _closesCache = closesCache;
    }

    /// <summary>Gets the backend.</summary>
    public CacheBackend Cache { get; }

    /// <summary>Gets the caching handler at the top of this session's handler chain.</summary>
    public CachingHandler Handler { get; }

    /// <summary>
    /// Turns caching off for the calls made in the current asynchronous flow until the returned scope is disposed
    /// (also when the block throws). Other flows, and other sessions sharing the backend, keep caching.
    /// </summary>
    /// <example><code>using (session.Disabled()) { await session.GetAsync(url); }</code></example>
    public IDisposable Disabled() => Handler.Disable();

    /// <summary>Sends a GET request whose response expires as given, overriding URL patterns and the session default.</summary>
    public Task<HttpResponseMessage> GetAsync(string? requestUri, Expiration expireAfter, CancellationToken cancellationToken = default)
        => GetAsync(CreateUri(requestUri), expireAfter, cancellationToken);

    /// <summary>Sends a GET request whose response expires as given, overriding URL patterns and the session default.</summary>
    public Task<HttpResponseMessage> GetAsync(Uri? requestUri, Expiration expireAfter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expireAfter);
        var request = new HttpRequestMessage(HttpMethod.Get, requestUri).SetExpireAfter(expireAfter);
        return SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    /// <summary>Sends a GET request (with a per-request expiration) and returns the body as a string.</summary>
    /// <exception cref="HttpRequestException">The response status is not a success.</exception>
    public async Task<string> GetStringAsync(string? requestUri, Expiration expireAfter, CancellationToken cancellationToken = default)
    {
        using var response = await GetAsync(requestUri, expireAfter, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a GET request (with a per-request expiration) and returns the body as bytes.</summary>
    /// <exception cref="HttpRequestException">The response status is not a success.</exception>
    public async Task<byte[]> GetByteArrayAsync(string? requestUri, Expiration expireAfter, CancellationToken cancellationToken = default)
    {
        using var response = await GetAsync(requestUri, expireAfter, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        base.Dispose(true);
        if (_ownsCache || (_closesCache && Cache.AutoClose))
        {
            await Cache.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        base.Dispose(disposing);
        if (disposing && (_ownsCache || (_closesCache && Cache.AutoClose)))
        {
            Cache.Dispose();
        }
    }

    private static CachingHandler CreateHandler(CacheBackend cache, HttpMessageHandler? innerHandler)
    {
        ArgumentNullException.ThrowIfNull(cache);
        return innerHandler is null ? new CachingHandler(cache) : new CachingHandler(cache, innerHandler);
    }

    private static CachingHandler FindCachingHandler(HttpMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        for (var current = handler; current is not null; current = (current as DelegatingHandler)?.InnerHandler)
        {
            if (current is CachingHandler caching)
            {
                return caching;
            }
        }

        throw new ArgumentException("The handler pipeline has no CachingHandler (for an IHttpClientFactory client, call AddHttpCaching on its builder).", nameof(handler));
    }

    private static Uri? CreateUri(string? uri) => string.IsNullOrEmpty(uri) ? null : new Uri(uri, UriKind.RelativeOrAbsolute);
}
