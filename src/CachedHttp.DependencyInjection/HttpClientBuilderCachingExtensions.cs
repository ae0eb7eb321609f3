using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.DependencyInjection.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds response caching to <c>IHttpClientFactory</c> clients: named, typed, and every client through <c>ConfigureHttpClientDefaults</c>.</summary>
/// <remarks>
/// <para>
/// Each client gets a <see cref="CachingHandler"/> at the place of the <c>AddHttpCaching</c> call among its other
/// handlers: handlers added before it run before the cache (on hits too), handlers added after it run only for
/// requests that reach the network (so <c>AddHttpCaching().AddStandardResilienceHandler()</c> retries origin requests,
/// never cache hits). The handler is transient, created with each pipeline the factory builds and rotates; the cache
/// it uses is a singleton per cache name (see <see cref="HttpCacheServiceCollectionExtensions"/>), so entries survive
/// handler rotation and are shared by every client that names the same cache. However many times
/// <c>AddHttpCaching</c> applies to a client (defaults and its own registration), it gets one caching handler, at
/// the first place.
/// </para>
/// <para>
/// Placement: a <see cref="DelegatingHandler"/> sits above the primary handler, so it cannot see what the primary
/// handler does on its own: the <c>Accept-Encoding</c> that automatic decompression adds, credentials that
/// <c>PreAuthenticate</c> adds, and the hops of redirects it follows. By default <c>AddHttpCaching</c> therefore makes
/// the primary handler a <see cref="SocketsHttpHandler"/> that decompresses every encoding and does not follow
/// redirects, and lets the caching handler follow them, storing one alias per hop (as <see cref="CachedSession"/>
/// does); the stored body is the decoded one, and <c>Vary: Accept-Encoding</c> is keyed on what the caller sent.
/// To keep a primary handler of your own (a proxy, client certificates), set
/// <see cref="HttpClientCachingOptions.KeepPrimaryHandler"/> with <see cref="ConfigureHttpCaching"/>, or configure it
/// after <c>AddHttpCaching</c>: then the cache sees only final responses of redirects (one entry for the requested
/// URL), and credentials added below it are not part of the key, so do not share such a cache across credentials.
/// </para>
/// </remarks>
public static class HttpClientBuilderCachingExtensions
{
    /// <summary>Caches the client's responses in a cache named like the client (in memory unless one is registered with that name).</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="configure">
    /// Sets the options of the client's cache. On <c>ConfigureHttpClientDefaults</c>, where there is no client name
    /// yet, it applies to every cache.
    /// </param>
    /// <returns>The client builder.</returns>
    /// <example><code>services.AddHttpClient("github", c => c.BaseAddress = new("https://api.github.com/")).AddHttpCaching(o => o.CacheControl = true);</code></example>
    public static IHttpClientBuilder AddHttpCaching(this IHttpClientBuilder builder, Action<CacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddCaching(builder);
        if (builder.Name is { } name)
        {
            builder.Services.AddHttpCache(name).Configure(configure);
        }
        else if (configure is not null)
        {
            builder.Services.ConfigureAll(configure);
        }

        return builder;
    }

    /// <summary>Caches the client's responses in the named cache, which other clients may share.</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="cacheName">
    /// The cache, registered with <c>services.AddHttpCache(cacheName)</c> to choose its options and storage (else in
    /// memory with the default options); the empty string is the default cache.
    /// </param>
    /// <returns>The client builder.</returns>
    public static IHttpClientBuilder AddHttpCaching(this IHttpClientBuilder builder, string cacheName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(cacheName);
        AddCaching(builder);
        builder.Services.AddHttpCache(cacheName);
        builder.Services.Configure<HttpClientCachingOptions>(builder.Name, o => o.CacheName = cacheName);
        return builder;
    }

    /// <summary>Caches the client's responses in a cache named like the client, whose backend a factory creates.</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="createBackend">Creates the backend once, from the root service provider and the cache's validated options.</param>
    /// <param name="configure">Sets the options of the client's cache (on <c>ConfigureHttpClientDefaults</c>: of every cache).</param>
    /// <returns>The client builder.</returns>
    /// <remarks>
    /// On <c>ConfigureHttpClientDefaults</c> the factory creates the cache of each client that has no storage chosen by
    /// name (<c>services.AddHttpCache(clientName).UseBackend(…)</c> wins, whatever the order).
    /// </remarks>
    public static IHttpClientBuilder AddHttpCaching(this IHttpClientBuilder builder, Func<IServiceProvider, CacheOptions, CacheBackend> createBackend, Action<CacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(createBackend);
        builder.AddHttpCaching(configure);
        if (builder.Name is { } name)
        {
            builder.Services.AddHttpCache(name).UseBackend(createBackend);
        }
        else
        {
            builder.Services.ConfigureAll<HttpCacheRegistration>(r => r.CreateDefaultBackend = createBackend);
        }

        return builder;
    }

    /// <summary>Sets how <c>AddHttpCaching</c> sets up the client: which cache, and whether it keeps its primary handler.</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The client builder.</returns>
    /// <example><code>services.AddHttpClient("corp").ConfigurePrimaryHttpMessageHandler(() => new HttpClientHandler { Proxy = proxy }).AddHttpCaching().ConfigureHttpCaching(o => o.KeepPrimaryHandler = true);</code></example>
    public static IHttpClientBuilder ConfigureHttpCaching(this IHttpClientBuilder builder, Action<HttpClientCachingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(builder.Name, configure);
        return builder;
    }

    private static void AddCaching(IHttpClientBuilder builder)
    {
        var services = builder.Services;
        HttpCacheServiceCollectionExtensions.AddCoreServices(services);
        services.TryAddSingleton<ICachedSessionFactory, CachedSessionFactory>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Options.IPostConfigureOptions<HttpClientFactoryOptions>, CachingHandlerFinalizer>());
        services.Configure<HttpClientFactoryOptions>(builder.Name, o => o.HttpMessageHandlerBuilderActions.Add(CachingHandlerAction.Instance.Apply));
    }
}
