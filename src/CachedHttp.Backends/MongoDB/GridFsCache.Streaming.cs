using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static CachedHttp.MongoDB.Internal.MongoOperations;

namespace CachedHttp.MongoDB;

/// <content>
/// Streaming: a value uploaded to GridFS as it is produced (a new revision, visible only once its upload is closed),
/// and large values read from their head or as a download stream.
/// </content>
public partial class GridFsCache
{
    /// <inheritdoc />
    /// <value><see langword="true"/>.</value>
    public override bool SupportsStreaming => true;

    /// <inheritdoc />
    /// <remarks>
    /// An upload stream of a new revision of the key's file: GridFS lists the file only once the upload is closed (on
    /// commit), after which older revisions are deleted, as <see cref="WriteAsync"/> does. Disposed without a commit,
    /// the upload is aborted and its chunks deleted. No operation timeout applies to the upload as a whole.
    /// </remarks>
    public override async ValueTask<StorageWriteStream> OpenWriteAsync(string key, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var options = new GridFSUploadOptions { Metadata = new BsonDocument(DeleteAfterField, DateOrNull(deleteAfter)) };
        var upload = await _operations.RunAsync(token => _bucket.OpenUploadStreamAsync(ObjectId.GenerateNewId(), key, options, token), cancellationToken).ConfigureAwait(false);
        return new UploadWriteStream(this, key, upload);
    }

    /// <inheritdoc />
    /// <remarks>A seekable download stream of the newest revision; a newer revision written meanwhile does not change what it reads.</remarks>
    public override async ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var file = await NewestAsync(key, cancellationToken).ConfigureAwait(false);
        if (file is null || IsPast(DeleteAfterOf(file), TimeProvider.GetUtcNow()))
        {
            return null;
        }

        try
        {
            return await _operations.RunAsync<Stream>(
                async token => await _bucket.OpenDownloadStreamAsync(file[IdField].AsObjectId, new GridFSDownloadOptions { Seekable = true }, token).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
        }
        catch (GridFSFileNotFoundException)
        {
            return null; // deleted by a newer revision meanwhile
        }
    }

    /// <inheritdoc />
    /// <remarks>The file's length is known from its <c>files</c> document: a small value is downloaded whole, a larger one only up to its head.</remarks>
    public override async ValueTask<StoredEntryInfo?> ReadUpToAsync(string key, int maxBytes, int headBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        await _operations.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var file = await NewestAsync(key, cancellationToken).ConfigureAwait(false);
        if (file is null || IsPast(DeleteAfterOf(file), TimeProvider.GetUtcNow()))
        {
            return null;
        }

        var length = file.TryGetValue("length", out var stored) && stored.IsNumeric ? stored.ToInt64() : 0;
        if (length <= maxBytes)
        {
            var value = await ReadAsync(key, cancellationToken).ConfigureAwait(false);
            return value is null ? null : new StoredEntryInfo(key, value.Length) { Head = value };
        }

        var stream = await OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return null;
        }

        await using (stream.ConfigureAwait(false))
        {
            var head = new byte[(int)Math.Min(headBytes, stream.Length)];
            await stream.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
            return new StoredEntryInfo(key, stream.Length) { Head = head };
        }
    }

    /// <summary>Deletes every revision of the key but the newest (ours, or a concurrent writer's that is newer).</summary>
    private async Task KeepNewestRevisionAsync(string key, CancellationToken cancellationToken)
    {
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

    /// <summary>A GridFS upload, closed on commit and aborted when disposed without one.</summary>
    private sealed class UploadWriteStream(GridFsCache owner, string key, GridFSUploadStream<ObjectId> upload) : StorageWriteStream
    {
        private bool _closed;

        protected override async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(buffer, out var segment))
            {
                await upload.WriteAsync(segment.Array!, segment.Offset, segment.Count, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await upload.WriteAsync(buffer.ToArray(), cancellationToken).ConfigureAwait(false);
            }
        }

        protected override async ValueTask CommitCoreAsync(CancellationToken cancellationToken)
        {
            _closed = true;
            await upload.CloseAsync(cancellationToken).ConfigureAwait(false);
            await owner.KeepNewestRevisionAsync(key, cancellationToken).ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // Aborted first: disposing an upload that is still open would close it, which commits it.
                if (!_closed)
                {
                    _closed = true;
                    upload.Abort();
                }

                upload.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            if (!_closed)
            {
                _closed = true;
                await upload.AbortAsync().ConfigureAwait(false);
            }

            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
