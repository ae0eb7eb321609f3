using MongoDB.Bson;
using MongoDB.Driver;

namespace CachedHttp.MongoDB.Internal;

/// <summary>What both MongoDB storages share: the operation timeout, one-time index setup, field names and filters.</summary>
internal sealed class MongoOperations
{
    public const string IdField = "_id";
    public const string DataField = "data";
    public const string GridFsIdField = "gridfs_id";
    public const string SizeField = "size";
    public const string DeleteAfterField = "delete_after";

    private const long TransferUnit = 16L * 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly Func<CancellationToken, Task> _initialize;
    private Task? _ready;

    public MongoOperations(TimeSpan operationTimeout, Func<CancellationToken, Task> initialize)
    {
        OperationTimeout = operationTimeout;
        _initialize = initialize;
    }

    public TimeSpan OperationTimeout { get; }

    public static BsonValue DateOrNull(DateTimeOffset? at) => at is { } value ? new BsonDateTime(value.UtcDateTime) : BsonNull.Value;

    /// <summary>Whether a stored <c>delete_after</c> (a date, or null/missing) has passed at <paramref name="now"/>.</summary>
    public static bool IsPast(BsonValue? deleteAfter, DateTimeOffset now)
        => deleteAfter is BsonDateTime date && date.MillisecondsSinceEpoch <= now.ToUnixTimeMilliseconds();

    /// <summary>Documents whose <paramref name="field"/> is null, missing, or after <paramref name="now"/>.</summary>
    public static FilterDefinition<BsonDocument> Live(string field, DateTimeOffset now)
        => Builders<BsonDocument>.Filter.Or(
            Builders<BsonDocument>.Filter.Eq(field, BsonNull.Value),
            Builders<BsonDocument>.Filter.Gt(field, new BsonDateTime(now.UtcDateTime)));

    /// <summary>Documents whose <paramref name="field"/> is a date at or before <paramref name="now"/>.</summary>
    public static FilterDefinition<BsonDocument> Expired(string field, DateTimeOffset now)
        => Builders<BsonDocument>.Filter.Lte(field, new BsonDateTime(now.UtcDateTime));

    /// <summary>Creates the indexes once (a failed attempt is retried by the next caller).</summary>
    public Task EnsureReadyAsync(CancellationToken cancellationToken)
    {
        var ready = _ready;
        if (ready is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }

        lock (_gate)
        {
            if (_ready is null || _ready.IsFaulted || _ready.IsCanceled)
            {
                // Not tied to one caller's token: other callers may be waiting on the same setup.
                _ready = Task.Run(() => RunAsync(_initialize, CancellationToken.None), CancellationToken.None);
            }

            ready = _ready;
        }

        return ready.WaitAsync(cancellationToken);
    }

    /// <summary>Runs one operation with the operation timeout; a timeout surfaces as <see cref="TimeoutException"/>.</summary>
    /// <param name="operation">The operation.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <param name="bytes">The bytes a GridFS transfer moves: the timeout grows by one <see cref="OperationTimeout"/> per 16 MiB.</param>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken, long bytes = 0)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (OperationTimeout != Timeout.InfiniteTimeSpan)
        {
            // System clock on purpose: this bounds network I/O, not cache expiry.
            timeout.CancelAfter(OperationTimeout * (1 + (Math.Max(bytes, 0) / TransferUnit)));
        }

        try
        {
            return await operation(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"A MongoDB operation did not complete within {OperationTimeout} (MongoDbCacheOptions.OperationTimeout).", ex);
        }
    }

    /// <summary>Runs one operation without a result with the operation timeout.</summary>
    public Task RunAsync(Func<CancellationToken, Task> operation, CancellationToken cancellationToken, long bytes = 0)
        => RunAsync<bool>(
            async token =>
            {
                await operation(token).ConfigureAwait(false);
                return true;
            },
            cancellationToken,
            bytes);

    /// <summary>Enumerates a cursor, each batch with its own timeout, one batch in memory at a time.</summary>
    public async IAsyncEnumerable<T> EnumerateAsync<T>(Func<CancellationToken, Task<IAsyncCursor<T>>> open, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var cursor = await RunAsync(open, cancellationToken).ConfigureAwait(false);
        while (await RunAsync(cursor.MoveNextAsync, cancellationToken).ConfigureAwait(false))
        {
            foreach (var item in cursor.Current)
            {
                yield return item;
            }
        }
    }

    /// <summary>Creates an index; a conflict with an existing index of other options is logged, not thrown.</summary>
    public static async Task CreateIndexAsync(IMongoCollection<BsonDocument> collection, CreateIndexModel<BsonDocument> index, Microsoft.Extensions.Logging.ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await collection.Indexes.CreateOneAsync(index, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (MongoCommandException ex)
        {
            // A conflicting index made by someone else (IndexOptionsConflict, IndexKeySpecsConflict) or no createIndex
            // permission: the cache works without it, as reads filter expired values themselves.
            Log.IndexFailed(logger, ex, index.Options?.Name ?? "?", collection.CollectionNamespace.CollectionName);
        }
    }
}
