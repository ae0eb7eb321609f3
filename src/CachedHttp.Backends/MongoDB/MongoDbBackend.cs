using CachedHttp.MongoDB.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Driver;

namespace CachedHttp.MongoDB;

/// <summary>
/// A <see cref="CacheBackend"/> over MongoDB: collections <c>responses</c> and <c>redirects</c> of one database, large
/// bodies in GridFS automatically (see <see cref="MongoDbCache"/>).
/// </summary>
/// <remarks>
/// <para>Thread-safe; meant to be a singleton.</para>
/// <para>
/// <b>Ownership.</b> A database passed in is never disposed. A client the backend creates from a connection string is
/// disposed with the backend.
/// </para>
/// </remarks>
public class MongoDbBackend : MongoBackendBase
{
    /// <summary>Initializes a backend over a database the caller owns.</summary>
    /// <param name="database">The database; its client is shared and never disposed by the backend.</param>
    /// <param name="options">The caching options; defaults when null. Validated now.</param>
    /// <param name="mongoOptions">The MongoDB options; defaults when null. Validated now; <see cref="MongoDbCacheOptions.DatabaseName"/> is ignored.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public MongoDbBackend(IMongoDatabase database, CacheOptions? options = null, MongoDbCacheOptions? mongoOptions = null)
        : this(new MongoConnection(database ?? throw new ArgumentNullException(nameof(database)), null, MongoDbCache.Validated(mongoOptions)), options)
    {
    }

    /// <summary>Initializes a backend with a client of its own, connected with <paramref name="connectionString"/> and disposed with the backend.</summary>
    /// <param name="connectionString">A MongoDB connection string, for example <c>mongodb://localhost:27017</c>.</param>
    /// <param name="options">The caching options; defaults when null. Validated now.</param>
    /// <param name="mongoOptions">The MongoDB options (the database is <see cref="MongoDbCacheOptions.DatabaseName"/>); defaults when null. Validated now.</param>
    /// <exception cref="ArgumentException">An option or the connection string is invalid.</exception>
    public MongoDbBackend(string connectionString, CacheOptions? options = null, MongoDbCacheOptions? mongoOptions = null)
        : this(MongoClients.Connect(connectionString, options, mongoOptions), options)
    {
    }

    private MongoDbBackend(MongoConnection connection, CacheOptions? options)
        : base(connection, options, (validated, store) => new MongoDbCache(connection.Database, store, connection.Options, validated.TimeProvider, MongoClients.Logger(validated)))
    {
    }

}

/// <summary>
/// A <see cref="CacheBackend"/> that keeps every stored value in GridFS: buckets <c>responses</c> and <c>redirects</c>
/// of one database (see <see cref="GridFsCache"/>).
/// </summary>
/// <remarks>
/// <para>Thread-safe; meant to be a singleton. Call <see cref="CacheBackend.DeleteExpiredResponsesAsync"/> now and then:
/// GridFS files have no native expiry.</para>
/// <para>
/// <b>Ownership.</b> A database passed in is never disposed. A client the backend creates from a connection string is
/// disposed with the backend.
/// </para>
/// </remarks>
public class GridFsBackend : MongoBackendBase
{
    /// <summary>Initializes a backend over a database the caller owns.</summary>
    /// <param name="database">The database; its client is shared and never disposed by the backend.</param>
    /// <param name="options">The caching options; defaults when null. Validated now.</param>
    /// <param name="mongoOptions">The MongoDB options; defaults when null. Validated now; <see cref="MongoDbCacheOptions.DatabaseName"/> is ignored.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public GridFsBackend(IMongoDatabase database, CacheOptions? options = null, MongoDbCacheOptions? mongoOptions = null)
        : this(new MongoConnection(database ?? throw new ArgumentNullException(nameof(database)), null, MongoDbCache.Validated(mongoOptions)), options)
    {
    }

    /// <summary>Initializes a backend with a client of its own, connected with <paramref name="connectionString"/> and disposed with the backend.</summary>
    /// <param name="connectionString">A MongoDB connection string, for example <c>mongodb://localhost:27017</c>.</param>
    /// <param name="options">The caching options; defaults when null. Validated now.</param>
    /// <param name="mongoOptions">The MongoDB options (the database is <see cref="MongoDbCacheOptions.DatabaseName"/>); defaults when null. Validated now.</param>
    /// <exception cref="ArgumentException">An option or the connection string is invalid.</exception>
    public GridFsBackend(string connectionString, CacheOptions? options = null, MongoDbCacheOptions? mongoOptions = null)
        : this(MongoClients.Connect(connectionString, options, mongoOptions), options)
    {
    }

    private GridFsBackend(MongoConnection connection, CacheOptions? options)
        : base(connection, options, (validated, store) => new GridFsCache(connection.Database, store, connection.Options, validated.TimeProvider, MongoClients.Logger(validated)))
    {
    }

}

/// <summary>
/// What <see cref="MongoDbBackend"/> and <see cref="GridFsBackend"/> share: the database, the MongoDB options, and the
/// client the backend owns when it created it from a connection string.
/// </summary>
public abstract class MongoBackendBase : CacheBackend
{
    private readonly IDisposable? _ownedClient;

    private protected MongoBackendBase(MongoConnection connection, CacheOptions? options, Func<CacheOptions, string, BaseCache> createStore)
        : base(options, createStore)
    {
        _ownedClient = connection.OwnedClient;
        Database = connection.Database;
        MongoOptions = connection.Options;
    }

    /// <summary>Gets the database.</summary>
    public IMongoDatabase Database { get; }

    /// <summary>Gets the MongoDB options.</summary>
    public MongoDbCacheOptions MongoOptions { get; }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _ownedClient?.Dispose();
        }
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        await base.DisposeAsyncCore().ConfigureAwait(false);
        _ownedClient?.Dispose();
    }
}
