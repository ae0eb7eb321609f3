using Microsoft.Extensions.DependencyInjection;

namespace CachedHttp.DependencyInjection;

/// <summary>
/// Configures one named HTTP cache (a singleton <see cref="CacheBackend"/>) in a service collection: its options and
/// its storage. Returned by <c>services.AddHttpCache(name)</c>; extended by the backend packages
/// (<c>AddSqliteHttpCache</c>, <c>AddRedisHttpCache</c>, …) through <see cref="HttpCacheBuilderExtensions.UseBackend(IHttpCacheBuilder, Func{IServiceProvider, CacheOptions, CacheBackend})"/>.
/// </summary>
public interface IHttpCacheBuilder
{
    /// <summary>Gets the name of the cache (<see cref="Microsoft.Extensions.Options.Options.DefaultName"/>, the empty string, for the default cache).</summary>
    string Name { get; }

    /// <summary>Gets the service collection the cache is registered in.</summary>
    IServiceCollection Services { get; }
}
