using System.Runtime.CompilerServices;
using CachedHttp.MongoDB.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static CachedHttp.MongoDB.Internal.MongoOperations;

namespace CachedHttp.MongoDB;

/// <summary>
/// Storage that keeps every value in a GridFS bucket: one file per key (filename = key, <c>metadata.delete_after</c>),
/// for values of any size and for users who want all bodies in GridFS. <see cref="MongoDbCache"/> moves only large
/// values to GridFS and is faster for small ones.
/// </summary>
/// <remarks>
/// <para>Thread-safe.</para>
/// <para>
/// <b>Writes.</b> A new file (a new revision of the filename) is uploaded whole, then every other revision of the key
/// is deleted. GridFS makes a file visible only once all its chunks are written, and readers take the newest revision,
/// so they see the old or the new value whole. Two concurrent writers of one key both keep only the newest revision.
/// </para>
/// <para>
/// <b>Expiry.</b> MongoDB's TTL indexes cannot delete GridFS files (a file is a <c>files</c> document plus its
/// <c>chunks</c>), so reads, enumerations and counts hide files past their <c>metadata.delete_after</c> by this storage's
/// <see cref="TimeProvider"/>, and <see cref="DeleteExpiredAsync"/> deletes them (call it periodically, or through
/// <see cref="CacheBackend.DeleteExpiredResponsesAsync"/>).
/// </para>
/// <para><b>Ownership.</b> The database passed in is not owned: this storage disposes nothing of it.</para>
/// </remarks>
public partial class GridFsCache : BaseCache
{
    private const int DeleteBatchSize = 1000;
    private const int MaxReadAttempts = 3;
    private const string FilenameField = "filename";
    private const string UploadDateField = "uploadDate";
    private const string MetadataDeleteAfterField = "metadata." + DeleteAfterField;
    private static readonly FilterDefinitionBuilder<BsonDocument> Filter = Builders<BsonDocument>.Filter;
    private static readonly SortDefinition<BsonDocument> NewestFirst = Builders<BsonDocument>.Sort.Descending(UploadDateField).Descending(IdField);

    private readonly GridFSBucket<ObjectId> _bucket;
    private readonly IMongoCollection<BsonDocument> _files;
    private readonly IMongoCollection<BsonDocument> _chunks;
    private readonly MongoOperations _operations;
    private readonly ILogger _logger;

    /// <summary>Initializes a storage in a GridFS bucket of a database the caller owns.</summary>
    /// <param name="database">The database; not disposed (nothing of it is).</param>
    /// <param name="bucketName">The bucket, for example <c>responses</c> (collections <c>responses.files</c> and <c>responses.chunks</c>).</param>
    /// <param name="options">The options; defaults when null. Validated now; <see cref="MongoDbCacheOptions.DatabaseName"/> and <see cref="MongoDbCacheOptions.GridFsThreshold"/> are ignored.</param>
    /// <param name="timeProvider">The clock used to honour delete-after times.</param>
    /// <param name="logger">The logger; none when null.</param>
    /// <exception cref="ArgumentException">An option or <paramref name="bucketName"/> is invalid.</exception>
    public GridFsCache(IMongoDatabase database, string bucketName, MongoDbCacheOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(database);
        MongoDbCache.ValidateCollectionName(bucketName);
        var validated = MongoDbCache.Validated(options);
        _logger = logger ?? NullLogger.Instance;
        BucketName = bucketName;
        _bucket = new GridFSBucket<ObjectId>(database, new GridFSBucketOptions { BucketName = bucketName });
        _files = database.GetCollection<BsonDocument>(bucketName + ".files");
        _chunks = database.GetCollection<BsonDocument>(bucketName + ".chunks");
        _operations = new MongoOperations(validated.OperationTimeout, InitializeAsync);
    }

    /// <inheritdoc />
    public override string Name => "gridfs";

    /// <summary>Gets the name of the GridFS bucket.</summary>
    public string BucketName { get; }

    /// <inheritdoc />
    public override async ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; attempt <= MaxReadAttempts; attempt++)
        {
            var file = await NewestAsync(key, cancellationToken).ConfigureAwait(false);
            if (file is null || IsPast(DeleteAfterOf(file), TimeProvider.GetUtcNow()))
            {
                return null;
            }

            try
            {
                var length = file.TryGetValue("length", out var stored) && stored.IsNumeric ? stored.ToInt64() : 0;
                return await _operations.RunAsync(token => _bucket.DownloadAsBytesAsync(file[IdField].AsObjectId, cancellationToken: token), cancellationToken, length).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is GridFSFileNotFoundException or GridFSChunkException)
            {
                // A newer revision replaced it and deleted it meanwhile: take the newest again.
                Log.TornRead(_logger, key);
            }
        }

        return null;
    }

    /// <inheritdoc />
    public override async ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var file = await NewestAsync(key, cancellationToken).ConfigureAwait(false);
        return file is not null && !IsPast(DeleteAfterOf(file), TimeProvider.GetUtcNow());
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var upload = new GridFSUploadOptions { Metadata = new BsonDocument(DeleteAfterField, DateOrNull(deleteAfter)) };
        var id = ObjectId.GenerateNewId();
        await _operations.RunAsync(
            async token =>
            {
                using var stream = MongoDbCache.AsStream(value);
                await _bucket.UploadFromStreamAsync(id, key, stream, upload, token).ConfigureAwait(false);
            },
            cancellationToken,
            value.Length).ConfigureAwait(false);

        // Keep only the newest revision (ours, or a concurrent writer's that is newer).
        var revisions = new List<ObjectId>();
        var options = new FindOptions<BsonDocument> { Sort = NewestFirst, Projection = Builders<BsonDocument>.Projection.Include(IdField) };
        await foreach (var file in _operations.EnumerateAsync(token => _files.FindAsync(Filter.Eq(FilenameField, key), options, token), cancellationToken).ConfigureAwait(false))
        {
            revisions.Add(file[IdField].AsObjectId);
        }

        if (revisions.Count > 1)
        {
            await DeleteFilesAsync(revisions.Skip(1).ToList(), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        => await DeleteManyAsync([key], cancellationToken).ConfigureAwait(false) > 0;

    /// <inheritdoc />
    /// <remarks>Finds the files of up to 1,000 keys at a time and deletes their <c>files</c> documents and chunks in bulk.</remarks>
    /// <returns>The number of keys that had a file.</returns>
    public override async ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var batch in keys.Distinct(StringComparer.Ordinal).Chunk(DeleteBatchSize))
        {
            var files = new List<ObjectId>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var options = new FindOptions<BsonDocument> { Projection = Builders<BsonDocument>.Projection.Include(IdField).Include(FilenameField) };
            await foreach (var file in _operations.EnumerateAsync(token => _files.FindAsync(Filter.In(FilenameField, batch), options, token), cancellationToken).ConfigureAwait(false))
            {
                files.Add(file[IdField].AsObjectId);
                names.Add(file[FilenameField].AsString);
            }

            await DeleteFilesAsync(files, cancellationToken).ConfigureAwait(false);
            deleted += names.Count;
        }

        return deleted;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        BsonDocument[] stages =
        [
            new("$match", Live(MetadataDeleteAfterField, TimeProvider.GetUtcNow()).Render(new RenderArgs<BsonDocument>(_files.DocumentSerializer, _files.Settings.SerializerRegistry))),
            new("$group", new BsonDocument(IdField, "$" + FilenameField)),
        ];
        var options = new AggregateOptions { AllowDiskUse = true };
        await foreach (var group in _operations.EnumerateAsync(token => _files.AggregateAsync(PipelineDefinition<BsonDocument, BsonDocument>.Create(stages), options, token), cancellationToken).ConfigureAwait(false))
        {
            yield return group[IdField].AsString;
        }
    }

    /// <inheritdoc />
    public override async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        long count = 0;
        await foreach (var unused in GetKeysAsync(cancellationToken).ConfigureAwait(false))
        {
            count++;
        }

        return count;
    }

    /// <inheritdoc />
    /// <remarks>Deletes every file and chunk of the bucket (its indexes are kept).</remarks>
    public override async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);

        // Files before chunks, so that no file is ever listed without its chunks.
        await _operations.RunAsync(token => _files.DeleteManyAsync(FilterDefinition<BsonDocument>.Empty, token), cancellationToken).ConfigureAwait(false);
        await _operations.RunAsync(token => _chunks.DeleteManyAsync(FilterDefinition<BsonDocument>.Empty, token), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Deletes every file whose <c>metadata.delete_after</c> has passed, with its chunks.</remarks>
    /// <returns>The number of files removed.</returns>
    public override async ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
    {
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var expired = new List<ObjectId>();
        var options = new FindOptions<BsonDocument> { Projection = Builders<BsonDocument>.Projection.Include(IdField) };
        var filter = Expired(MetadataDeleteAfterField, TimeProvider.GetUtcNow());
        await foreach (var file in _operations.EnumerateAsync(token => _files.FindAsync(filter, options, token), cancellationToken).ConfigureAwait(false))
        {
            expired.Add(file[IdField].AsObjectId);
        }

        await DeleteFilesAsync(expired, cancellationToken).ConfigureAwait(false);
        return expired.Count;
    }

    private static BsonValue DeleteAfterOf(BsonDocument file)
        => file.TryGetValue("metadata", out var metadata) && metadata.IsBsonDocument
            ? metadata.AsBsonDocument.GetValue(DeleteAfterField, BsonNull.Value)
            : BsonNull.Value;

    private Task<BsonDocument?> NewestAsync(string key, CancellationToken cancellationToken)
        => _operations.RunAsync<BsonDocument?>(
            async token => await _files.Find(Filter.Eq(FilenameField, key)).Sort(NewestFirst).Limit(1).FirstOrDefaultAsync(token).ConfigureAwait(false),
            cancellationToken);

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // The driver creates GridFS's own indexes on the first upload; these serve lookups by key and the expiry sweep.
        var byName = new CreateIndexModel<BsonDocument>(
            Builders<BsonDocument>.IndexKeys.Ascending(FilenameField).Ascending(UploadDateField),
            new CreateIndexOptions { Name = "filename_1_uploadDate_1" });
        await CreateIndexAsync(_files, byName, _logger, cancellationToken).ConfigureAwait(false);
        var sweep = new CreateIndexModel<BsonDocument>(
            Builders<BsonDocument>.IndexKeys.Ascending(MetadataDeleteAfterField),
            new CreateIndexOptions { Name = "metadata_delete_after" });
        await CreateIndexAsync(_files, sweep, _logger, cancellationToken).ConfigureAwait(false);
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
}
