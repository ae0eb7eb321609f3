using CachedHttp.Redis.Internal;
using StackExchange.Redis;

namespace CachedHttp.Redis;

/// <summary>
/// Storage in Redis: one string key per entry, <c>{prefix}:{store}:{key}</c>, with the entry's delete-after time as
/// the key's native TTL. Works with a single server and with Redis Cluster.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe. Single-key operations are one round trip. Bulk operations never use <c>KEYS</c>: they <c>SCAN</c>
/// every primary node for the store's prefix, and delete with <c>UNLINK</c> (which frees memory in the background) or
/// read with <c>MGET</c> in batches of <see cref="RedisCacheOptions.ScanBatchSize"/> keys, pipelined. In Redis Cluster
/// a multi-key command must stay in one hash slot, so each batch is split by slot.
/// </para>
/// <para>
/// Redis removes expired keys itself, so <see cref="DeleteExpiredAsync"/> has nothing to do. <see cref="CountAsync"/>
/// and the enumerations scan the whole keyspace of each node (O(n) in the number of keys of the database, not only of
/// this store); under concurrent changes, like any <c>SCAN</c>, they may miss keys added or removed meanwhile and, in
/// rare cases, list a key twice.
/// </para>
/// <para>
/// Every operation fails with a <see cref="TimeoutException"/> after <see cref="RedisCacheOptions.OperationTimeout"/>
/// (for bulk operations: per batch), and at once while the connection has no connected server (even when the
/// connection would queue commands until it reconnects), so a slow or absent server never hangs a request.
/// </para>
/// <para>
/// A storage built on a connection passed in by the caller never disposes it. A storage built from a configuration
/// string owns the connection it created and disposes it. Requires Redis 4.0 or later (<c>UNLINK</c>); older servers
/// get <c>DEL</c>.
/// </para>
/// </remarks>
public partial class RedisCache : BaseCache
{
    private static readonly TimeSpan ShortestTimeToLive = TimeSpan.FromMilliseconds(1);

    private readonly bool _ownsConnection;
    private readonly IDatabase _database;
    private readonly TimeSpan _operationTimeout;
    private readonly int _batchSize;

    /// <summary>Initializes a storage on a shared connection, with the default <see cref="RedisCacheOptions"/> but the given prefix and database.</summary>
    /// <param name="connection">The connection; the caller keeps owning it.</param>
    /// <param name="prefix">The first part of every key (<see cref="RedisCacheOptions.KeyPrefix"/>).</param>
    /// <param name="storeName">The name of this store within the prefix, for example <c>responses</c>.</param>
    /// <param name="timeProvider">The clock that delete-after times are measured against to compute TTLs.</param>
    /// <param name="database">The database number; -1 for the connection's default.</param>
    /// <exception cref="ArgumentException">The prefix, store name or database is invalid.</exception>
    public RedisCache(IConnectionMultiplexer connection, string prefix, string storeName, TimeProvider? timeProvider = null, int database = -1)
        : this(connection, storeName, new RedisCacheOptions { KeyPrefix = prefix, Database = database }, timeProvider)
    {
    }

    /// <summary>Initializes a storage on a shared connection.</summary>
    /// <param name="connection">The connection; the caller keeps owning it.</param>
    /// <param name="storeName">The name of this store within the prefix, for example <c>responses</c>.</param>
    /// <param name="options">The options; defaults when null. They are validated and copied now.</param>
    /// <param name="timeProvider">The clock that delete-after times are measured against to compute TTLs.</param>
    /// <exception cref="ArgumentException">The store name or an option is invalid.</exception>
    public RedisCache(IConnectionMultiplexer connection, string storeName, RedisCacheOptions? options, TimeProvider? timeProvider = null)
        : this(connection, ownsConnection: false, storeName, RedisCacheOptions.ValidatedCopy(options), timeProvider)
    {
    }

    /// <summary>Initializes a storage that connects to Redis itself, and owns and disposes that connection.</summary>
    /// <param name="configuration">A StackExchange.Redis configuration string, for example <c>localhost:6379</c> or a list of cluster nodes.</param>
    /// <param name="storeName">The name of this store within the prefix, for example <c>responses</c>.</param>
    /// <param name="options">The options; defaults when null. They are validated and copied now.</param>
    /// <param name="timeProvider">The clock that delete-after times are measured against to compute TTLs.</param>
    /// <remarks>
    /// Construction does not fail when the server is down (<c>abortConnect=false</c>): the connection retries in the
    /// background and, meanwhile, operations fail at once. It waits for the first connection attempt: up to about
    /// <see cref="RedisCacheOptions.ConnectTimeout"/> when the server cannot be reached. The timeouts of <paramref name="options"/> replace those of
    /// the configuration string.
    /// </remarks>
    /// <exception cref="ArgumentException">The configuration string, the store name or an option is invalid.</exception>
    public RedisCache(string configuration, string storeName, RedisCacheOptions? options = null, TimeProvider? timeProvider = null)
        : this(ConnectOwned(configuration, storeName, RedisCacheOptions.ValidatedCopy(options), out var validated), ownsConnection: true, storeName, validated, timeProvider)
    {
    }

    private RedisCache(IConnectionMultiplexer connection, bool ownsConnection, string storeName, RedisCacheOptions options, TimeProvider? timeProvider)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ValidateStoreName(storeName);
        Connection = connection;
        _ownsConnection = ownsConnection;
        _database = connection.GetDatabase(options.Database);
        _operationTimeout = options.OperationTimeout;
        _batchSize = options.ScanBatchSize;
        StoreName = storeName;
        KeyPrefix = $"{options.KeyPrefix}:{storeName}:";
        _scanPattern = EscapeGlob(KeyPrefix) + "*";
    }

    /// <inheritdoc />
    public override string Name => "redis";

    /// <summary>Gets the connection this storage uses.</summary>
    public IConnectionMultiplexer Connection { get; }

    /// <summary>Gets the database number this storage uses.</summary>
    public int Database => _database.Database;

    /// <summary>Gets the name of this store within the prefix, for example <c>responses</c>.</summary>
    public string StoreName { get; }

    /// <summary>Gets the start of every Redis key of this store: <c>{KeyPrefix}:{store}:</c>.</summary>
    public string KeyPrefix { get; }

    /// <summary>Gets the Redis key under which this store keeps <paramref name="key"/>.</summary>
    /// <param name="key">The storage key.</param>
    public RedisKey GetRedisKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new RedisKey(KeyPrefix + key);
    }

    /// <inheritdoc />
    public override async ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var value = await Run(() => _database.StringGetAsync(GetRedisKey(key)), "GET", cancellationToken).ConfigureAwait(false);
        return value.IsNull ? null : (byte[])value!;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A delete-after time becomes the key's TTL, measured from <see cref="BaseCache.TimeProvider"/>'s now; one already
    /// past deletes the key instead. Without a delete-after time the key has no TTL (a previous TTL is removed).
    /// </remarks>
    public override async ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        var redisKey = GetRedisKey(key);
        TimeSpan? timeToLive = null;
        if (deleteAfter is { } at)
        {
            timeToLive = at - TimeProvider.GetUtcNow();
            if (timeToLive < ShortestTimeToLive)
            {
                await UnlinkAsync([redisKey], cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        // A copy: a command can wait in the connection's backlog beyond this call, and the caller may reuse its buffer.
        RedisValue stored = value.ToArray();
        var expiry = timeToLive is { } ttl ? new StackExchange.Redis.Expiration(ttl) : StackExchange.Redis.Expiration.Default;
        await Run(() => _database.StringSetAsync(redisKey, stored, expiry), "SET", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        => await UnlinkAsync([GetRedisKey(key)], cancellationToken).ConfigureAwait(false) > 0;

    /// <inheritdoc />
    public override async ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
        => await Run(() => _database.KeyExistsAsync(GetRedisKey(key)), "EXISTS", cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    /// <remarks>Always 0: Redis expires keys itself (native TTL).</remarks>
    public override ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(0);

    /// <summary>Disposes the connection if this storage created it.</summary>
    /// <param name="disposing"><see langword="true"/> when called from <see cref="BaseCache.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsConnection)
        {
            Connection.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Disposes the connection asynchronously if this storage created it.</summary>
    protected override async ValueTask DisposeAsyncCore()
    {
        if (_ownsConnection)
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Issues a Redis call bounded by the operation timeout; fails at once when no server is connected.</summary>
    private Task<T> Run<T>(Func<Task<T>> start, string operation, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisconnected(operation);
        return RedisOperation.WithTimeout(start(), _operationTimeout, operation, cancellationToken);
    }

    /// <summary>
    /// Fails at once while no server is connected: whatever the connection's backlog policy, a cache does not queue
    /// behind an outage, the request goes to the network instead.
    /// </summary>
    private void ThrowIfDisconnected(string operation)
    {
        if (!Connection.IsConnected)
        {
            throw new RedisConnectionException(
                ConnectionFailureType.UnableToConnect,
                $"No Redis server is connected; the {operation} fails at once instead of waiting for the connection to come back.");
        }
    }

    private static ConnectionMultiplexer ConnectOwned(string configuration, string storeName, RedisCacheOptions options, out RedisCacheOptions validated)
    {
        // Everything that can be checked is checked before connecting, so a bad argument leaks no connection.
        ValidateStoreName(storeName);
        validated = options;
        return RedisConnections.Connect(configuration, options);
    }

    private static void ValidateStoreName(string storeName)
    {
        ArgumentException.ThrowIfNullOrEmpty(storeName);
    }
}
