using CachedHttp;
using CachedHttp.DependencyInjection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an HTTP cache stored in files.</summary>
public static class FileHttpCacheServiceCollectionExtensions
{
    /// <summary>Registers a named cache (the default cache when <paramref name="name"/> is null) stored as one file per entry in a directory.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="directory">The directory, as <see cref="FileBackend"/> takes it.</param>
    /// <param name="configure">Sets the cache options.</param>
    /// <param name="configureFiles">Sets the file settings (validated now).</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    public static IHttpCacheBuilder AddFileHttpCache(this IServiceCollection services, string directory = FileBackend.DefaultDirectory, Action<CacheOptions>? configure = null, Action<FileCacheOptions>? configureFiles = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var files = new FileCacheOptions();
        configureFiles?.Invoke(files);
        files.Validate();
        return services.AddHttpCache(name).Configure(configure).UseBackend((_, options) => new FileBackend(directory, options, files));
    }
}
