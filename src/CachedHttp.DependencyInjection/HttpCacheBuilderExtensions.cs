using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.DependencyInjection.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures a named HTTP cache: its options and its storage.</summary>
/// <remarks>
/// <para>
/// A backend package adds its registration as a one-line extension of its own over <see cref="UseBackend(IHttpCacheBuilder, Func{IServiceProvider, CacheOptions, CacheBackend})"/>,
/// for example in CachedHttp.Sqlite:
/// </para>
/// <code>
/// public static IHttpCacheBuilder AddSqliteHttpCache(this IServiceCollection services, string path, Action&lt;CacheOptions&gt;? configure = null, string? name = null)
///     => services.AddHttpCache(name).Configure(configure).UseBackend((sp, options) => new SqliteBackend(path, options));
/// </code>
/// <para>
/// and a backend over a shared client takes it from the container, as in
/// <c>UseBackend((sp, options) => new RedisBackend(sp.GetRequiredService&lt;IConnectionMultiplexer&gt;(), options))</c>.
/// </para>
/// </remarks>
public static class HttpCacheBuilderExtensions
{
    /// <summary>Adds a step that sets the cache's options (steps run in the order they are added).</summary>
    /// <param name="builder">The cache builder.</param>
    /// <param name="configure">Sets the options; nothing is added when <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    public static IHttpCacheBuilder Configure(this IHttpCacheBuilder builder, Action<CacheOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (configure is not null)
        {
            builder.Services.Configure(builder.Name, configure);
        }

        return builder;
    }

    /// <summary>Binds the cache's options from a configuration section, such as <c>configuration.GetSection("CachedHttp")</c>.</summary>
    /// <param name="builder">The cache builder.</param>
    /// <param name="configuration">The section; its keys are <see cref="CacheOptions"/> property names (case-insensitive).</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// <para>Example <c>appsettings.json</c>:</para>
    /// <code>
    /// "CachedHttp": {
    ///   "ExpireAfter": "15m",
    ///   "UrlsExpireAfter": { "api.example.com/static": "-1", "*.example.com/live": "0" },
    ///   "AllowedCodes": [ 200, 203 ],
    ///   "CacheControl": true,
    ///   "StaleIfError": "5m",
    ///   "StorageTimeout": "2s",
    ///   "CircuitBreaker": { "FailureThreshold": 5, "BreakDuration": "30s" }
    /// }
    /// </code>
    /// <para>
    /// Expirations take every form <see cref="Expiration.Parse"/> takes (<c>-1</c>, <c>0</c>, <c>immediate</c>,
    /// <c>3600</c>, <c>15m</c>, a date); time spans take <c>00:05:00</c> or <c>5m</c>. A set or list in configuration
    /// replaces the default (<c>"AllowedCodes": [203]</c> is <c>{ 203 }</c>, not <c>{ 200, 203 }</c>), and also takes one
    /// comma-separated value, as an environment variable gives (<c>CachedHttp__AllowedCodes=200,203</c>).
    /// </para>
    /// <para>
    /// <see cref="CacheOptions.UrlsExpireAfter"/> is tried in order and the first match wins, but configuration
    /// providers do not keep the order of an object's keys: they are enumerated sorted (numbers first, then
    /// case-insensitively), and keys cannot contain <c>:</c>, the configuration path separator, nor differ only in case.
    /// When order matters, or a pattern has a port (<c>localhost:8080/api</c>), use the array form, which keeps its
    /// order: <c>"UrlsExpireAfter": [ { "Pattern": "localhost:8080/api", "Expiration": "5m" }, { "Pattern": "", "Expiration": "1h" } ]</c>.
    /// </para>
    /// <para>
    /// An unknown key (a typo such as <c>ExpireAftr</c>), a value that does not convert, an option that cannot come
    /// from configuration (<c>Filter</c>, <c>TimeProvider</c>, …), and an invalid value all fail validation with a
    /// message that starts with the key's full path, e.g. <c>CachedHttp:ExpireAfter: 'soon' is not an expiration …</c>
    /// or <c>CachedHttp:AllowedCodes contains 42, which is not an HTTP status code (100-999).</c> Options set in code
    /// with <see cref="Configure"/> apply in registration order, before or after the binding.
    /// </para>
    /// <para>A reloaded configuration is seen by caches created afterwards; a cache already created keeps its options.</para>
    /// </remarks>
    public static IHttpCacheBuilder Bind(this IHttpCacheBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        builder.Services.AddOptions<CacheOptions>(builder.Name).Configure(options => CacheOptionsConfiguration.Bind(configuration, options));
        builder.Services.Configure<HttpCacheRegistration>(builder.Name, r => r.Sections.Add(configuration));
        builder.Services.AddSingleton<IOptionsChangeTokenSource<CacheOptions>>(new ConfigurationChangeTokenSource<CacheOptions>(builder.Name, configuration));
        return builder;
    }

    /// <summary>Stores the cache in process memory (<see cref="InMemoryCache"/>), the default.</summary>
    /// <param name="builder">The cache builder.</param>
    /// <returns>The builder.</returns>
    public static IHttpCacheBuilder UseMemory(this IHttpCacheBuilder builder)
        => builder.UseBackendCore(static (_, options) => new CacheBackend(options));

    /// <summary>Creates the cache's backend with a factory, given the cache's validated options.</summary>
    /// <param name="builder">The cache builder.</param>
    /// <param name="createBackend">
    /// Creates the backend, once, from the root service provider and the cache's options (pass them on: they are
    /// already validated, and carry the container's logger factory and clock).
    /// </param>
    /// <returns>The builder.</returns>
    /// <remarks>The last storage chosen for a cache wins. The container disposes the backend.</remarks>
    public static IHttpCacheBuilder UseBackend(this IHttpCacheBuilder builder, Func<IServiceProvider, CacheOptions, CacheBackend> createBackend)
    {
        ArgumentNullException.ThrowIfNull(createBackend);
        return builder.UseBackendCore(createBackend);
    }

    /// <summary>Creates the cache's backend with a factory that sets its own options.</summary>
    /// <param name="builder">The cache builder.</param>
    /// <param name="createBackend">Creates the backend, once, from the root service provider.</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// The backend's options are its own: options configured or bound for the cache are still validated at
    /// start-up but not used. Prefer the overload that receives them.
    /// </remarks>
    public static IHttpCacheBuilder UseBackend(this IHttpCacheBuilder builder, Func<IServiceProvider, CacheBackend> createBackend)
    {
        ArgumentNullException.ThrowIfNull(createBackend);
        return builder.UseBackendCore((sp, _) => createBackend(sp));
    }

    /// <summary>Creates the cache's backend over two stores made by a factory: <c>responses</c> and <c>redirects</c>.</summary>
    /// <param name="builder">The cache builder.</param>
    /// <param name="createStore">Creates one store from the root service provider, the cache's options and the store's name.</param>
    /// <returns>The builder.</returns>
    /// <example><code>services.AddHttpCache("api").UseStorage((sp, options, store) => new MyStorage(store, options.TimeProvider));</code></example>
    public static IHttpCacheBuilder UseStorage(this IHttpCacheBuilder builder, Func<IServiceProvider, CacheOptions, string, BaseCache> createStore)
    {
        ArgumentNullException.ThrowIfNull(createStore);
        return builder.UseBackendCore((sp, options) => new CacheBackend(createStore(sp, options, "responses"), createStore(sp, options, "redirects"), options));
    }

    private static IHttpCacheBuilder UseBackendCore(this IHttpCacheBuilder builder, Func<IServiceProvider, CacheOptions, CacheBackend> createBackend)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<HttpCacheRegistration>(builder.Name, r => r.CreateBackend = createBackend);
        return builder;
    }
}
