using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.Redis;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an HTTP cache stored in Redis.</summary>
public static class RedisHttpCacheServiceCollectionExtensions
{
    /// <summary>Registers a named cache (the default cache when <paramref name="name"/> is null) in Redis, over a connection it creates and owns.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">A StackExchange.Redis configuration string, such as <c>localhost:6379</c>.</param>
    /// <param name="configure">Sets the cache options; more can be set, or bound from configuration, on the returned builder.</param>
    /// <param name="configureRedis">Sets the Redis settings (validated now).</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    /// <exception cref="ArgumentException">A Redis setting is invalid.</exception>
    public static IHttpCacheBuilder AddRedisHttpCache(this IServiceCollection services, string configuration, Action<CacheOptions>? configure = null, Action<RedisCacheOptions>? configureRedis = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(configuration);
        var redis = Validated(configureRedis);
        return services.AddHttpCache(name).Configure(configure).UseBackend((_, options) => new RedisBackend(configuration, options, redis));
    }

    /// <summary>
    /// Registers a named cache (the default cache when <paramref name="name"/> is null) in Redis, over the
    /// <see cref="IConnectionMultiplexer"/> registered in the container (shared, never disposed by the cache).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the cache options.</param>
    /// <param name="configureRedis">Sets the Redis settings (validated now).</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    public static IHttpCacheBuilder AddRedisHttpCache(this IServiceCollection services, Action<CacheOptions>? configure = null, Action<RedisCacheOptions>? configureRedis = null, string? name = null)
    {
        var redis = Validated(configureRedis);
        return services.AddHttpCache(name).Configure(configure)
            .UseBackend((provider, options) => new RedisBackend(provider.GetRequiredService<IConnectionMultiplexer>(), options, redis));
    }

    private static RedisCacheOptions Validated(Action<RedisCacheOptions>? configure)
    {
        var redis = new RedisCacheOptions();
        configure?.Invoke(redis);
        redis.Validate();
        return redis;
    }
}
