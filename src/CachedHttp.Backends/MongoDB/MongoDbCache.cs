using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CachedHttp.MongoDB.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static CachedHttp.MongoDB.Internal.MongoOperations;

namespace CachedHttp.MongoDB;

/// <summary>
/// Storage in a MongoDB collection: one document per key, <c>{ _id: key, data: BinData, size, delete_after: Date|null }</c>;
/// values larger than <see cref="MongoDbCacheOptions.GridFsThreshold"/> go to GridFS automatically, the document then
/// holding <c>{ _id, gridfs_id, size, delete_after }</c> and the bytes living in the bucket <c>{collection}_bodies</c>.
/// </summary>
/// <remarks>
/// <para>Thread-safe.</para>
/// <para>
/// <b>Expiry.</b> A TTL index on <c>delete_after</c> (<c>expireAfterSeconds: 0</c>) is created on first use, so
/// MongoDB deletes expired documents itself (its TTL monitor runs about once a minute); reads, enumerations and counts
/// also hide documents past their time by this storage's <see cref="TimeProvider"/>. A TTL index cannot delete GridFS
/// files, so a large value's file also carries <c>metadata.delete_after</c> and <see cref="DeleteExpiredAsync"/> removes
/// expired files (<see cref="CacheBackend.DeleteExpiredResponsesAsync"/> calls it).
/// </para>
/// <para>
/// <b>Large values.</b> A new GridFS file is uploaded first, then the document is replaced atomically
/// (<c>findOneAndReplace</c>), then the replaced file is deleted: a reader sees the old or the new value whole.
/// Deleting an entry deletes its file; <see cref="ClearAsync"/> empties the collection and the bucket's
/// <c>files</c> and <c>chunks</c> collections (indexes kept).
/// </para>
/// <para><b>Ownership.</b> The database passed in is not owned: this storage disposes nothing of it.</para>
/// </remarks>
public class MongoDbCache : BaseCache
{
    private const int DeleteBatchSize = 1000;
    private const int MaxReadAttempts = 3;
    private static readonly FilterDefinitionBuilder<BsonDocument> Filter = Builders<BsonDocument>.Filter;
    private static readonly ProjectionDefinition<BsonDocument> GridFsIdOnly = Builders<BsonDocument>.Projection.Include(GridFsIdField);

    private readonly IMongoCollection<BsonDocument> _collection;
    private readonly GridFSBucket<ObjectId> _bucket;
    private readonly IMongoCollection<BsonDocument> _files;
    private readonly IMongoCollection<BsonDocument> _chunks;
    private readonly MongoDbCacheOptions _options;
    private readonly MongoOperations _operations;
    private readonly ILogger _logger;

    /// <summary>Initializes a storage in a collection of a database the caller owns.</summary>
    /// <param name="database">The database; not disposed (nothing of it is).</param>
    /// <param name="collectionName">The collection, for example <c>responses</c>; large values go to the GridFS bucket <c>{collectionName}_bodies</c>.</param>
    /// <param name="options">The options; defaults when null. Validated now; <see cref="MongoDbCacheOptions.DatabaseName"/> is ignored.</param>
    /// <param name="timeProvider">The clock used to honour delete-after times.</param>
    /// <param name="logger">The logger; none when null.</param>
    /// <exception cref="ArgumentException">An option or <paramref name="collectionName"/> is invalid.</exception>
    public MongoDbCache(IMongoDatabase database, string collectionName, MongoDbCacheOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(database);
        ValidateCollectionName(collectionName);
        _options = Validated(options);
        _logger = logger ?? NullLogger.Instance;
        _collection = database.GetCollection<BsonDocument>(collectionName);
        BucketName = collectionName + "_bodies";
        _bucket = new GridFSBucket<ObjectId>(database, new GridFSBucketOptions { BucketName = BucketName });
        _files = database.GetCollection<BsonDocument>(BucketName + ".files");
        _chunks = database.GetCollection<BsonDocument>(BucketName + ".chunks");
        _operations = new MongoOperations(_options.OperationTimeout, InitializeAsync);
    }

    /// <inheritdoc />
    public override string Name => "mongodb";

    /// <summary>Gets the name of the collection.</summary>
    public string CollectionName => _collection.CollectionNamespace.CollectionName;

    /// <summary>Gets the name of the GridFS bucket that holds values over <see cref="MongoDbCacheOptions.GridFsThreshold"/>.</summary>
    public string BucketName { get; }

    /// <inheritdoc />
    public override async ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; attempt <= MaxReadAttempts; attempt++)
        {
            var document = await _operations.RunAsync(token => _collection.Find(ById(key)).FirstOrDefaultAsync(token), cancellationToken).ConfigureAwait(false);
            if (document is null || IsPast(document.GetValue(DeleteAfterField, BsonNull.Value), TimeProvider.GetUtcNow()))
            {
                return null;
            }

            var value = await ValueOfAsync(document, cancellationToken).ConfigureAwait(false);
            if (value is not null)
            {
                return value;
            }

            // The file was replaced (and deleted) after the document was read: the document now names the new one.
            Log.TornRead(_logger, key);
        }

        return null;
    }

    /// <inheritdoc />
    public override async ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var filter = ById(key) & Live(DeleteAfterField, TimeProvider.GetUtcNow());
        return await _operations.RunAsync(token => _collection.Find(filter).Limit(1).CountDocumentsAsync(token), cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var document = new BsonDocument { { IdField, key } };
        ObjectId? newFile = null;
        if (value.Length > _options.GridFsThreshold)
        {
            // The file first: the current document keeps naming the previous value until it is replaced.
            var upload = new GridFSUploadOptions { Metadata = new BsonDocument(DeleteAfterField, DateOrNull(deleteAfter)) };
            newFile = await _operations.RunAsync(
                async token =>
                {
                    var id = ObjectId.GenerateNewId();
                    using var stream = AsStream(value);
                    await _bucket.UploadFromStreamAsync(id, key, stream, upload, token).ConfigureAwait(false);
                    return id;
                },
                cancellationToken,
                value.Length).ConfigureAwait(false);
            document.Add(GridFsIdField, newFile.Value);
        }
        else
        {
            document.Add(DataField, new BsonBinaryData(value.ToArray()));
        }

        document.Add(SizeField, (long)value.Length);
        document.Add(DeleteAfterField, DateOrNull(deleteAfter));

        BsonDocument? previous;
        try
        {
            // Returns the replaced document's file id atomically (and not its bytes).
            var replace = new FindOneAndReplaceOptions<BsonDocument> { IsUpsert = true, ReturnDocument = ReturnDocument.Before, Projection = GridFsIdOnly };
            previous = await _operations.RunAsync(token => _collection.FindOneAndReplaceAsync(ById(key), document, replace, token), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (newFile is { } orphan)
            {
                await DeleteFileQuietlyAsync(orphan).ConfigureAwait(false);
            }

            throw;
        }

        if (FileOf(previous) is { } oldFile && oldFile != newFile)
        {
            await DeleteFileQuietlyAsync(oldFile).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var options = new FindOneAndDeleteOptions<BsonDocument> { Projection = GridFsIdOnly };
        var deleted = await _operations.RunAsync(token => _collection.FindOneAndDeleteAsync(ById(key), options, token), cancellationToken).ConfigureAwait(false);
        if (deleted is null)
        {
            return false;
        }

        if (FileOf(deleted) is { } file)
        {
            await DeleteFilesAsync([file], cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// In batches of 1,000 keys: one <c>deleteMany</c> for the documents that hold their bytes, and one atomic
    /// <c>findOneAndDelete</c> per GridFS-backed document (so that its file is known and deleted, even when a concurrent
    /// write replaces it), then the files in bulk.
    /// </remarks>
    public override async ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        long deleted = 0;
        foreach (var batch in keys.Distinct(StringComparer.Ordinal).Chunk(DeleteBatchSize))
        {
            var inBatch = Filter.In(IdField, batch);
            var inline = await _operations.RunAsync(token => _collection.DeleteManyAsync(inBatch & Filter.Exists(GridFsIdField, false), token), cancellationToken).ConfigureAwait(false);
            deleted += inline.DeletedCount;

            var withFiles = new List<string>();
            await foreach (var document in _operations.EnumerateAsync(token => _collection.FindAsync(inBatch & Filter.Exists(GridFsIdField), new FindOptions<BsonDocument> { Projection = Builders<BsonDocument>.Projection.Include(IdField) }, token), cancellationToken).ConfigureAwait(false))
            {
                withFiles.Add(document[IdField].AsString);
            }

            var files = new List<ObjectId>();
            var options = new FindOneAndDeleteOptions<BsonDocument> { Projection = GridFsIdOnly };
            foreach (var key in withFiles)
            {
                var gone = await _operations.RunAsync(token => _collection.FindOneAndDeleteAsync(ById(key), options, token), cancellationToken).ConfigureAwait(false);
                if (gone is not null)
                {
                    deleted++;
                    if (FileOf(gone) is { } file)
                    {
                        files.Add(file);
                    }
                }
            }

            await DeleteFilesAsync(files, cancellationToken).ConfigureAwait(false);
        }

        return (int)Math.Min(deleted, int.MaxValue);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var filter = Live(DeleteAfterField, TimeProvider.GetUtcNow());
        var options = new FindOptions<BsonDocument> { Projection = Builders<BsonDocument>.Projection.Include(IdField) };
        await foreach (var document in _operations.EnumerateAsync(token => _collection.FindAsync(filter, options, token), cancellationToken).ConfigureAwait(false))
        {
            yield return document[IdField].AsString;
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var filter = Live(DeleteAfterField, TimeProvider.GetUtcNow());
        await foreach (var document in _operations.EnumerateAsync(token => _collection.FindAsync(filter, cancellationToken: token), cancellationToken).ConfigureAwait(false))
        {
            var key = document[IdField].AsString;
            var value = await ValueOfAsync(document, cancellationToken).ConfigureAwait(false)
                ?? await ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (value is not null)
            {
                yield return new KeyValuePair<string, byte[]>(key, value);
            }
        }
    }

    /// <inheritdoc />
    public override async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var filter = Live(DeleteAfterField, TimeProvider.GetUtcNow());
        return await _operations.RunAsync(token => _collection.CountDocumentsAsync(filter, cancellationToken: token), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Deletes every document of the collection, then every file and chunk of its bucket: no orphaned chunks remain.</remarks>
    public override async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        await _operations.RunAsync(token => _collection.DeleteManyAsync(FilterDefinition<BsonDocument>.Empty, token), cancellationToken).ConfigureAwait(false);

        // Files before chunks, so that no file is ever listed without its chunks.
        await _operations.RunAsync(token => _files.DeleteManyAsync(FilterDefinition<BsonDocument>.Empty, token), cancellationToken).ConfigureAwait(false);
        await _operations.RunAsync(token => _chunks.DeleteManyAsync(FilterDefinition<BsonDocument>.Empty, token), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The TTL index deletes expired documents by itself (within about a minute), but not their GridFS files. This deletes
    /// expired documents now (with their files), then every GridFS file whose <c>metadata.delete_after</c> has passed —
    /// including the files of documents the TTL monitor already removed.
    /// </remarks>
    /// <returns>The number of documents removed (files are not counted).</returns>
    public override async ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var now = TimeProvider.GetUtcNow();
        var expired = Expired(DeleteAfterField, now);
        var inline = await _operations.RunAsync(token => _collection.DeleteManyAsync(expired & Filter.Exists(GridFsIdField, false), token), cancellationToken).ConfigureAwait(false);
        var removed = inline.DeletedCount;

        // Documents pointing at files: deleted one by one, with the expiry re-checked, so a fresh replacement survives.
        var withFiles = new List<string>();
        await foreach (var document in _operations.EnumerateAsync(token => _collection.FindAsync(expired & Filter.Exists(GridFsIdField), new FindOptions<BsonDocument> { Projection = Builders<BsonDocument>.Projection.Include(IdField) }, token), cancellationToken).ConfigureAwait(false))
        {
            withFiles.Add(document[IdField].AsString);
        }

        var expiredFiles = new List<ObjectId>();
        var options = new FindOneAndDeleteOptions<BsonDocument> { Projection = GridFsIdOnly };
        foreach (var key in withFiles)
        {
            var gone = await _operations.RunAsync(token => _collection.FindOneAndDeleteAsync(ById(key) & expired, options, token), cancellationToken).ConfigureAwait(false);
            if (FileOf(gone) is { } file)
            {
                removed++;
                expiredFiles.Add(file);
            }
        }

        // Every file past its time: a replaced value gets a new file, so only expired documents name these.
        var fileFilter = Expired("metadata." + DeleteAfterField, now);
        await foreach (var file in _operations.EnumerateAsync(token => _files.FindAsync(fileFilter, new FindOptions<BsonDocument> { Projection = Builders<BsonDocument>.Projection.Include(IdField) }, token), cancellationToken).ConfigureAwait(false))
        {
            expiredFiles.Add(file[IdField].AsObjectId);
        }

        await DeleteFilesAsync(expiredFiles.Distinct().ToList(), cancellationToken).ConfigureAwait(false);
        return (int)Math.Min(removed, int.MaxValue);
    }

    internal static MongoDbCacheOptions Validated(MongoDbCacheOptions? options)
    {
        options ??= new MongoDbCacheOptions();
        options.Validate();
        return options;
    }

    internal static void ValidateCollectionName(string collectionName)
    {
        ArgumentException.ThrowIfNullOrEmpty(collectionName);
        if (collectionName.Contains('$', StringComparison.Ordinal) || collectionName.Contains('\0', StringComparison.Ordinal) || collectionName.StartsWith("system.", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{collectionName}' is not a usable MongoDB collection name.", nameof(collectionName));
        }
    }

    /// <summary>A stream over the bytes without copying them when they are an array segment.</summary>
    internal static MemoryStream AsStream(ReadOnlyMemory<byte> value)
        => MemoryMarshal.TryGetArray(value, out var segment) && segment.Array is not null
            ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(value.ToArray(), writable: false);

    private static FilterDefinition<BsonDocument> ById(string key) => Filter.Eq(IdField, key);

    private static ObjectId? FileOf(BsonDocument? document)
        => document is not null && document.TryGetValue(GridFsIdField, out var id) && id.IsObjectId ? id.AsObjectId : null;

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var ttl = new CreateIndexModel<BsonDocument>(
            Builders<BsonDocument>.IndexKeys.Ascending(DeleteAfterField),
            new CreateIndexOptions { Name = "delete_after_ttl", ExpireAfter = TimeSpan.Zero });
        await CreateIndexAsync(_collection, ttl, _logger, cancellationToken).ConfigureAwait(false);
        var sweep = new CreateIndexModel<BsonDocument>(
            Builders<BsonDocument>.IndexKeys.Ascending("metadata." + DeleteAfterField),
            new CreateIndexOptions { Name = "metadata_delete_after" });
        await CreateIndexAsync(_files, sweep, _logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The bytes of a document: inline, or downloaded from GridFS; null when its file is gone.</summary>
    private async Task<byte[]?> ValueOfAsync(BsonDocument document, CancellationToken cancellationToken)
    {
        if (document.TryGetValue(DataField, out var data) && data.IsBsonBinaryData)
        {
            return data.AsBsonBinaryData.Bytes;
        }

        if (FileOf(document) is not { } file)
        {
            return null;
        }

        try
        {
            var size = document.TryGetValue(SizeField, out var stored) && stored.IsNumeric ? stored.ToInt64() : 0;
            return await _operations.RunAsync(token => _bucket.DownloadAsBytesAsync(file, cancellationToken: token), cancellationToken, size).ConfigureAwait(false);
        }
        catch (GridFSFileNotFoundException)
        {
            return null;
        }
        catch (GridFSChunkException)
        {
            // Deleted while it was downloaded.
            return null;
        }
    }

    /// <summary>Deletes GridFS files in bulk: their <c>files</c> documents first (so none is listed without chunks), then their chunks.</summary>
    private async Task DeleteFilesAsync(IReadOnlyCollection<ObjectId> files, CancellationToken cancellationToken)
    {
        foreach (var batch in files.Chunk(DeleteBatchSize))
        {
            await _operations.RunAsync(token => _files.DeleteManyAsync(Filter.In(IdField, batch), token), cancellationToken).ConfigureAwait(false);
            await _operations.RunAsync(token => _chunks.DeleteManyAsync(Filter.In("files_id", batch), token), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes a file nothing points at any more; a failure leaves it to <see cref="DeleteExpiredAsync"/> or <see cref="ClearAsync"/>.</summary>
    private async Task DeleteFileQuietlyAsync(ObjectId file)
    {
        try
        {
            // Not the caller's token: the value itself is written (or failed); this is cleanup that should finish.
            await DeleteFilesAsync([file], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StaleFileLeft(_logger, ex, BucketName);
        }
    }
}
