using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.Sqlite;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an HTTP cache stored in a SQLite file.</summary>
public static class SqliteHttpCacheServiceCollectionExtensions
{
    /// <summary>Registers a named cache (the default cache when <paramref name="name"/> is null) stored in a SQLite file.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="path">The file path or name, as <see cref="SqliteBackend(string, CacheOptions?, SqliteCacheOptions?)"/> takes it.</param>
    /// <param name="configure">Sets the cache options; more can be set, or bound from configuration, on the returned builder.</param>
    /// <param name="configureSqlite">Sets the file settings (validated now).</param>
    /// <param name="name">The cache name; use it with <c>AddHttpCaching(name)</c>, or name the cache like a client to give that client this storage.</param>
    /// <returns>The cache builder.</returns>
    /// <remarks>
    /// The file is opened when the cache is first used and closed when the container is disposed; sessions and clients
    /// never close it, whatever <see cref="CacheOptions.AutoClose"/> says.
    /// </remarks>
    /// <exception cref="ArgumentException">A file setting is invalid.</exception>
    public static IHttpCacheBuilder AddSqliteHttpCache(this IServiceCollection services, string path, Action<CacheOptions>? configure = null, Action<SqliteCacheOptions>? configureSqlite = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var sqlite = new SqliteCacheOptions();
        configureSqlite?.Invoke(sqlite);
        sqlite.Validate();
        return services.AddHttpCache(name).Configure(configure).UseBackend((_, options) => new SqliteBackend(path, options, sqlite));
    }
}
