namespace CachedHttp.DependencyInjection;

/// <summary>Gives the singleton <see cref="CacheBackend"/> of each named HTTP cache, creating it on first use.</summary>
/// <remarks>
/// <para>
/// Registered as a singleton by <c>AddHttpCache</c> and <c>AddHttpCaching</c>. A cache is created once, from the
/// <see cref="CacheOptions"/> named like it (validated then) and the storage chosen with <c>UseBackend</c> (memory by
/// default), and shared by every handler, session and service that asks for that name. Thread-safe.
/// </para>
/// <para>
/// The provider owns the backends it created and disposes them when the container is disposed; do not dispose them
/// yourself. A cache registered with <c>AddHttpCache(name)</c> can also be injected as a keyed service
/// (<c>[FromKeyedServices(name)] CacheBackend</c>), and the default cache as a plain <see cref="CacheBackend"/>.
/// </para>
/// </remarks>
public interface IHttpCacheProvider
{
    /// <summary>Gets the cache with the given name, creating it on first use.</summary>
    /// <param name="name">The cache name; the empty string for the default cache.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The cache's options are invalid.</exception>
    /// <exception cref="ObjectDisposedException">The container has been disposed.</exception>
    CacheBackend GetCache(string name);
}
