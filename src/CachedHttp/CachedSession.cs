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
/// files), as in the original library.
/// </para>
/// </remarks>
public class CachedSession : HttpClient, IAsyncDisposable
{
    private readonly bool _ownsCache;
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

    private CachedSession(CachingHandler handler, bool disposeHandler, bool ownsCache)
        : base(handler, disposeHandler)
    {
        Handler = handler;
        Cache = handler.Cache;
        _ownsCache = ownsCache;
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
        if (_ownsCache || Cache.AutoClose)
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
        if (disposing && (_ownsCache || Cache.AutoClose))
        {
            Cache.Dispose();
        }
    }

    private static CachingHandler CreateHandler(CacheBackend cache, HttpMessageHandler? innerHandler)
    {
        ArgumentNullException.ThrowIfNull(cache);
        return innerHandler is null ? new CachingHandler(cache) : new CachingHandler(cache, innerHandler);
    }

    private static Uri? CreateUri(string? uri) => string.IsNullOrEmpty(uri) ? null : new Uri(uri, UriKind.RelativeOrAbsolute);
}
