using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.MongoDB;
using MongoDB.Driver;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an HTTP cache stored in MongoDB (bodies over the threshold in GridFS).</summary>
public static class MongoDbHttpCacheServiceCollectionExtensions
{
    /// <summary>Registers a named cache (the default cache when <paramref name="name"/> is null) in MongoDB, over a client it creates and owns.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="connectionString">A MongoDB connection string.</param>
    /// <param name="configure">Sets the cache options.</param>
    /// <param name="configureMongo">Sets the MongoDB settings (validated now).</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    public static IHttpCacheBuilder AddMongoDbHttpCache(this IServiceCollection services, string connectionString, Action<CacheOptions>? configure = null, Action<MongoDbCacheOptions>? configureMongo = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var mongo = Validated(configureMongo);
        return services.AddHttpCache(name).Configure(configure).UseBackend((_, options) => new MongoDbBackend(connectionString, options, mongo));
    }

    /// <summary>Registers a named cache in MongoDB over the <see cref="IMongoDatabase"/> registered in the container (shared).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the cache options.</param>
    /// <param name="configureMongo">Sets the MongoDB settings (validated now).</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    public static IHttpCacheBuilder AddMongoDbHttpCache(this IServiceCollection services, Action<CacheOptions>? configure = null, Action<MongoDbCacheOptions>? configureMongo = null, string? name = null)
    {
        var mongo = Validated(configureMongo);
        return services.AddHttpCache(name).Configure(configure)
            .UseBackend((provider, options) => new MongoDbBackend(provider.GetRequiredService<IMongoDatabase>(), options, mongo));
    }

    /// <summary>Registers a named cache that stores every body in GridFS, over a client it creates and owns.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="connectionString">A MongoDB connection string.</param>
    /// <param name="configure">Sets the cache options.</param>
    /// <param name="configureMongo">Sets the MongoDB settings (validated now).</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    public static IHttpCacheBuilder AddGridFsHttpCache(this IServiceCollection services, string connectionString, Action<CacheOptions>? configure = null, Action<MongoDbCacheOptions>? configureMongo = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var mongo = Validated(configureMongo);
        return services.AddHttpCache(name).Configure(configure).UseBackend((_, options) => new GridFsBackend(connectionString, options, mongo));
    }

    private static MongoDbCacheOptions Validated(Action<MongoDbCacheOptions>? configure)
    {
        var mongo = new MongoDbCacheOptions();
        configure?.Invoke(mongo);
        mongo.Validate();
        return mongo;
    }
}
