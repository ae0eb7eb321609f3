using CachedHttp.Sqlite.Internal;

namespace CachedHttp.Sqlite;

/// <content>
/// Streaming for the cache: a value spooled to a temporary file as it is produced and moved into its row on commit (in
/// one transaction, see <see cref="WriteStreamAsync"/>), and large values read from their head or as a blob stream.
/// </content>
public partial class SqliteCache
{
    private Statement? _readUpTo;

    /// <inheritdoc />
    /// <value><see langword="true"/>.</value>
    public override bool SupportsStreaming => true;

    /// <inheritdoc />
    /// <remarks>
    /// The value is spooled to a temporary file (in the system's temporary folder, deleted when the stream is closed):
    /// the file's write lock is taken only on commit, which copies the spooled value into its row in one transaction, in
    /// 80 KiB pieces, so that a slow producer never holds up other writers.
    /// </remarks>
    public override ValueTask<StorageWriteStream> OpenWriteAsync(string key, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var spool = new FileStream(
            System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cachedhttp-sqlite-" + Guid.NewGuid().ToString("N") + ".tmp"),
            new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous | FileOptions.DeleteOnClose,
                BufferSize = 0,
            });
        return ValueTask.FromResult<StorageWriteStream>(new SpoolWriteStream(this, key, deleteAfter, spool));
    }

    /// <inheritdoc />
    /// <remarks>The same as <see cref="OpenReadStreamAsync"/>.</remarks>
    public override async ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        => await OpenReadStreamAsync(key, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    /// <remarks>One SELECT, which returns the value only when it is small enough; the head of a larger one is read as a blob.</remarks>
    public override async ValueTask<StoredEntryInfo?> ReadUpToAsync(string key, int maxBytes, int headBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        var row = await Run((key, maxBytes), static (self, state) =>
        {
            self._readUpTo ??= new Statement(
                $"SELECT size, CASE WHEN size <= $max THEN value END FROM {SqliteStatements.Quote(self.TableName)} WHERE key = $key AND (delete_after IS NULL OR delete_after > $now)",
                "$key",
                "$now",
                "$max");
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._readUpTo);
            command.Parameters[0].Value = state.key;
            command.Parameters[1].Value = self.Now();
            command.Parameters[2].Value = state.maxBytes;
            using var reader = command.ExecuteReader();
            return reader.Read() ? (Found: true, Size: reader.GetInt64(0), Value: reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1)) : default;
        }, cancellationToken).ConfigureAwait(false);
        if (!row.Found)
        {
            return null;
        }

        if (row.Value is { } value)
        {
            Touched(key); // a use, for least-recently-used eviction (a larger value is touched by OpenReadStreamAsync)
            return new StoredEntryInfo(key, value.Length) { Head = value };
        }

        var stream = await OpenReadStreamAsync(key, cancellationToken).ConfigureAwait(false);
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

    /// <summary>A value spooled to a temporary file, moved into its row on commit.</summary>
    private sealed class SpoolWriteStream(SqliteCache owner, string key, DateTimeOffset? deleteAfter, FileStream spool) : StorageWriteStream
    {
        protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
            => spool.WriteAsync(buffer, cancellationToken);

        protected override async ValueTask CommitCoreAsync(CancellationToken cancellationToken)
        {
            spool.Position = 0;
            await owner.WriteStreamAsync(key, spool, spool.Length, deleteAfter, cancellationToken).ConfigureAwait(false);
            await spool.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                spool.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await spool.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
