using CachedHttp.Redis.Internal;
using StackExchange.Redis;

namespace CachedHttp.Redis;

/// <summary>
/// A <see cref="CacheBackend"/> that keeps responses and redirect aliases in Redis (a single server or a cluster),
/// as two <see cref="RedisCache"/> stores, <c>{KeyPrefix}:responses:*</c> and <c>{KeyPrefix}:redirects:*</c>, each
/// entry with a native TTL.
/// </summary>
/// <remarks>
/// <para>Thread-safe; meant to be a singleton.</para>
/// <para>
/// Given an <see cref="IConnectionMultiplexer"/>, the backend shares it and never disposes it. Given a configuration
/// string, it creates its own connection, owns it and disposes it with the backend. That connection is created with
/// <c>abortConnect=false</c>: the backend starts even when Redis is down, requests then go to the network (a storage
/// failure never fails a request), and caching resumes once the connection is back.
/// </para>
/// <para>
/// A redirect alias is stored with the same delete-after time, hence the same TTL, as the response it points to.
/// </para>
/// </remarks>
public class RedisBackend : CacheBackend
{
    private readonly bool _ownsConnection;

    /// <summary>Initializes a backend on a shared connection.</summary>
    /// <param name="connection">The connection; the caller keeps owning it.</param>
    /// <param name="options">The caching options; defaults when null. They are validated now.</param>
    /// <param name="redisOptions">The Redis options; defaults when null. They are validated and copied now.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public RedisBackend(IConnectionMultiplexer connection, CacheOptions? options = null, RedisCacheOptions? redisOptions = null)
        : this(Shared(connection, redisOptions), options)
    {
    }

    /// <summary>Initializes a backend that connects to Redis itself, and owns and disposes that connection.</summary>
    /// <param name="configuration">A StackExchange.Redis configuration string, for example <c>localhost:6379</c> or a list of cluster nodes.</param>
    /// <param name="options">The caching options; defaults when null. They are validated now.</param>
    /// <param name="redisOptions">The Redis options; defaults when null. They are validated and copied now. Their timeouts replace those of the configuration string.</param>
    /// <remarks>
    /// Does not fail when the server is down (see the remarks on <see cref="RedisBackend"/>), but waits for the first
    /// connection attempt: up to about <see cref="RedisCacheOptions.ConnectTimeout"/> when the server cannot be reached.
    /// </remarks>
    /// <exception cref="ArgumentException">The configuration string or an option is invalid.</exception>
    public RedisBackend(string configuration, CacheOptions? options = null, RedisCacheOptions? redisOptions = null)
        : this(Owned(configuration, options, redisOptions), options)
    {
    }

    private RedisBackend(Setup setup, CacheOptions? options)
        : base(options, (validated, storeName) => new RedisCache(setup.Connection, storeName, setup.RedisOptions, validated.TimeProvider))
    {
        Connection = setup.Connection;
        RedisOptions = setup.RedisOptions;
        _ownsConnection = setup.OwnsConnection;
    }

    /// <summary>Gets the connection the backend uses.</summary>
    public IConnectionMultiplexer Connection { get; }

    /// <summary>Gets a copy of the Redis options the backend was built with.</summary>
    public RedisCacheOptions RedisOptions { get; }

    /// <summary>Disposes the stores, then the connection if the backend created it.</summary>
    /// <param name="disposing"><see langword="true"/> when called from <see cref="CacheBackend.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _ownsConnection)
        {
            Connection.Dispose();
        }
    }

    /// <summary>Disposes the stores, then the connection if the backend created it, asynchronously.</summary>
    protected override async ValueTask DisposeAsyncCore()
    {
        await base.DisposeAsyncCore().ConfigureAwait(false);
        if (_ownsConnection)
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static Setup Shared(IConnectionMultiplexer connection, RedisCacheOptions? redisOptions)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return new Setup(connection, RedisCacheOptions.ValidatedCopy(redisOptions), OwnsConnection: false);
    }

    private static Setup Owned(string configuration, CacheOptions? options, RedisCacheOptions? redisOptions)
    {
        // Every option is checked before connecting, so that a bad one leaks no connection.
        options?.Validate();
        RejectSizeBounds(options);
        var validated = RedisCacheOptions.ValidatedCopy(redisOptions);
        return new Setup(RedisConnections.Connect(configuration, validated), validated, OwnsConnection: true);
    }

    /// <summary>
    /// Rejects <see cref="CacheOptions.MaxEntries"/> and <see cref="CacheOptions.MaxBytes"/> before a client is created,
    /// so that the rejection leaks no connection (the base constructor rejects them too, once the stores exist).
    /// </summary>
    private static void RejectSizeBounds(CacheOptions? options)
    {
        var option = options?.MaxEntries is not null ? nameof(CacheOptions.MaxEntries) : options?.MaxBytes is not null ? nameof(CacheOptions.MaxBytes) : null;
        if (option is not null)
        {
            throw new ArgumentException(
                $"CacheOptions.{option} is not supported by the redis storage, which has its own eviction (see the backends documentation); use MaxEntryBytes and expiration instead.",
                option);
        }
    }

    private sealed record Setup(IConnectionMultiplexer Connection, RedisCacheOptions RedisOptions, bool OwnsConnection);
}
