using Microsoft.Extensions.Configuration;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>How one named cache is built (named options, by cache name).</summary>
internal sealed class HttpCacheRegistration
{
    /// <summary>Gets or sets the backend factory chosen for this cache by name; memory when null.</summary>
    public Func<IServiceProvider, CacheOptions, CacheBackend>? CreateBackend { get; set; }

    /// <summary>
    /// Gets or sets the backend factory chosen for every cache (<c>ConfigureHttpClientDefaults</c>); a cache's own
    /// <see cref="CreateBackend"/> wins whatever the order of registration.
    /// </summary>
    public Func<IServiceProvider, CacheOptions, CacheBackend>? CreateDefaultBackend { get; set; }

    /// <summary>Gets the configuration sections bound to this cache's options, to name keys in validation messages.</summary>
    public List<IConfiguration> Sections { get; } = [];
}
