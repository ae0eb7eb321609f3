using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>Creates each named cache once, from its options and registration, and disposes them with the container.</summary>
internal sealed class HttpCacheProvider : IHttpCacheProvider, IDisposable, IAsyncDisposable
{
    private readonly IServiceProvider _services;
    private readonly IOptionsMonitor<CacheOptions> _options;
    private readonly IOptionsMonitor<HttpCacheRegistration> _registrations;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Lazy<CacheBackend>> _caches = new(StringComparer.Ordinal);
    private int _disposed;

    public HttpCacheProvider(IServiceProvider services, IOptionsMonitor<CacheOptions> options, IOptionsMonitor<HttpCacheRegistration> registrations, ILoggerFactory? loggerFactory = null)
    {
        _services = services;
        _options = options;
        _registrations = registrations;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("CachedHttp.DependencyInjection");
    }

    public CacheBackend GetCache(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var lazy = _caches.GetOrAdd(name, static (n, self) => new Lazy<CacheBackend>(() => self.Create(n)), this);
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Let a later call try again (for example after a configuration reload fixed the options).
            _caches.TryRemove(new KeyValuePair<string, Lazy<CacheBackend>>(name, lazy));
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var cache in Created())
        {
            cache.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var cache in Created())
        {
            await cache.DisposeAsync().ConfigureAwait(false);
        }
    }

    private IEnumerable<CacheBackend> Created()
        => _caches.Values.Where(l => l.IsValueCreated).Select(l => l.Value);

    private CacheBackend Create(string name)
    {
        // Options validation (IValidateOptions) runs here when it has not run at start-up.
        var options = _options.Get(name);
        var registration = _registrations.Get(name);
        var create = registration.CreateBackend ?? registration.CreateDefaultBackend;
        var backend = create is null ? new CacheBackend(options) : create(_services, options)
            ?? throw new InvalidOperationException($"The backend factory of the HTTP cache '{name}' returned null.");
        Log.CacheCreated(_logger, name, backend.Name);
        return backend;
    }
}
