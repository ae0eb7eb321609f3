using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.DependencyInjection.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers named HTTP caches (singleton <see cref="CacheBackend"/>s) in a service collection.</summary>
/// <remarks>
/// <para>
/// A cache is created once, on first use, from the <see cref="CacheOptions"/> named like it and the storage chosen with
/// <c>UseMemory</c>, <c>UseBackend</c> or <c>UseStorage</c> (memory by default); every client, session and service that
/// uses the name shares it. Its options are validated at start-up (<c>ValidateOnStart</c>) when the app runs in a host,
/// else when the cache is first created; a failure is an <see cref="OptionsValidationException"/> whose message names
/// the option, or the configuration key when the value came from configuration.
/// </para>
/// <para>
/// The container owns the caches and disposes them. Inject one with <see cref="IHttpCacheProvider"/>, as a keyed
/// service (<c>[FromKeyedServices("name")] CacheBackend</c>), or, for the default cache, as a plain <see cref="CacheBackend"/>.
/// </para>
/// <para>
/// The container's <c>ILoggerFactory</c> and <see cref="TimeProvider"/> (when one is registered) are used unless the
/// options set their own.
/// </para>
/// </remarks>
public static class HttpCacheServiceCollectionExtensions
{
    /// <summary>Registers a named cache (in memory unless a backend is chosen on the returned builder).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The cache name; <see langword="null"/> or empty for the default cache.</param>
    /// <returns>A builder to configure the cache's options and storage.</returns>
    /// <example><code>services.AddHttpCache("github").Configure(o => o.ExpireAfter = TimeSpan.FromMinutes(15)).UseBackend((sp, o) => new MyBackend(o));</code></example>
    public static IHttpCacheBuilder AddHttpCache(this IServiceCollection services, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        name ??= Options.Options.DefaultName;
        AddCoreServices(services);
        services.AddOptions<CacheOptions>(name).ValidateOnStart();
        services.TryAddKeyedSingleton(name, (sp, _) => sp.GetRequiredService<IHttpCacheProvider>().GetCache(name));
        if (name.Length == 0)
        {
            services.TryAddSingleton(sp => sp.GetRequiredService<IHttpCacheProvider>().GetCache(Options.Options.DefaultName));
        }

        return new HttpCacheBuilder(services, name);
    }

    /// <summary>Registers the default cache, in memory, with options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder to configure the cache further.</returns>
    public static IHttpCacheBuilder AddHttpCache(this IServiceCollection services, Action<CacheOptions> configure)
        => services.AddHttpCache(Options.Options.DefaultName).Configure(configure);

    /// <summary>Registers a named cache, in memory unless a backend is chosen on the returned builder, with options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The cache name.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder to configure the cache further.</returns>
    public static IHttpCacheBuilder AddHttpCache(this IServiceCollection services, string name, Action<CacheOptions> configure)
        => services.AddHttpCache(name).Configure(configure);

    /// <summary>Registers the default cache, in memory, with options bound from configuration.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind, such as <c>configuration.GetSection("CachedHttp")</c> (see <see cref="HttpCacheBuilderExtensions.Bind"/>).</param>
    /// <returns>A builder to configure the cache further.</returns>
    public static IHttpCacheBuilder AddHttpCache(this IServiceCollection services, IConfiguration configuration)
        => services.AddHttpCache(Options.Options.DefaultName).Bind(configuration);

    /// <summary>Registers a named cache, in memory unless a backend is chosen on the returned builder, with options bound from configuration.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The cache name.</param>
    /// <param name="configuration">The section to bind (see <see cref="HttpCacheBuilderExtensions.Bind"/>).</param>
    /// <returns>A builder to configure the cache further.</returns>
    public static IHttpCacheBuilder AddHttpCache(this IServiceCollection services, string name, IConfiguration configuration)
        => services.AddHttpCache(name).Bind(configuration);

    internal static void AddCoreServices(IServiceCollection services)
    {
        services.AddOptions();
        services.TryAddSingleton<IHttpCacheProvider, HttpCacheProvider>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CacheOptions>, CacheOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<CacheOptions>, CacheOptionsServices>());
    }
}
