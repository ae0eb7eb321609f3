namespace CachedHttp.DependencyInjection;

/// <summary>
/// How <c>AddHttpCaching</c> sets up one <c>IHttpClientFactory</c> client (named options, by client name; set them with
/// <c>ConfigureHttpCaching</c>).
/// </summary>
public sealed class HttpClientCachingOptions
{
    /// <summary>Gets or sets the name of the cache the client uses.</summary>
    /// <value>The default value is <see langword="null"/>: a cache named like the client (its own cache).</value>
    public string? CacheName { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the client keeps its own primary handler.
    /// </summary>
    /// <remarks>
    /// <para>
    /// When <see langword="false"/> (the default), the primary handler is a <see cref="SocketsHttpHandler"/> that does not
    /// follow redirects and decompresses every encoding, and the caching handler follows redirects itself, so that
    /// each hop is stored as an alias of the final response (as <see cref="CachedSession"/> does). The factory's own
    /// primary handler would follow redirects below the cache, which would then see only final responses.
    /// </para>
    /// <para>
    /// When <see langword="true"/>, or when a primary handler configured after <c>AddHttpCaching</c> replaces that one,
    /// the client keeps whatever primary handler it is given and the caching handler does not follow redirects.
    /// </para>
    /// </remarks>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool KeepPrimaryHandler { get; set; }
}
