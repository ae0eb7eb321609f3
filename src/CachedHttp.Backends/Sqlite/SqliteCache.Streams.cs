using System.Buffers;
using System.Globalization;
using CachedHttp.Sqlite.Internal;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Sqlite;

/// <summary>Incremental blob I/O: values read and written piece by piece, never whole in memory.</summary>
public partial class SqliteCache
{
    /// <summary>The size of each piece written by <see cref="WriteStreamAsync"/>.</summary>
    internal const int BlobPieceSize = 81920;

    /// <summary>Opens a read-only stream over the value stored under <paramref name="key"/>, read from the file as it is consumed.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>
    /// A seekable stream of the value, or <see langword="null"/> when the key is missing or past its delete-after time.
    /// </returns>
    /// <remarks>
    /// The stream reads a consistent snapshot: a value written or deleted after it was opened does not change what it
    /// reads. It holds a pooled connection and a read transaction until it is disposed, so dispose it promptly
    /// (while it is open, the file's write-ahead log cannot be checkpointed past it; with
    /// <see cref="SqliteCacheOptions.WalMode"/> off, writers wait for it). Not thread-safe, like any stream.
    /// </remarks>
    public ValueTask<Stream?> OpenReadStreamAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Run(key, static (self, key) => (Stream?)self.OpenReadStream(key), cancellationToken);
    }

    /// <summary>Stores the content of a stream under <paramref name="key"/>, replacing any previous value, without holding it whole in memory.</summary>
    /// <param name="key">The key.</param>
    /// <param name="content">The stream to copy from its current position; it must hold exactly <paramref name="length"/> more bytes. It is not disposed.</param>
    /// <param name="length">The number of bytes of the value.</param>
    /// <param name="deleteAfter">When the entry may be removed; <see langword="null"/> to keep it until deleted.</param>
    /// <param name="cancellationToken">A token to cancel the operation; a cancelled write leaves the previous value.</param>
    /// <returns>A task that completes when the value is committed.</returns>
    /// <exception cref="EndOfStreamException"><paramref name="content"/> ended before <paramref name="length"/> bytes.</exception>
    /// <exception cref="ArgumentException"><paramref name="content"/> holds more than <paramref name="length"/> bytes, or cannot be read.</exception>
    /// <remarks>
    /// A row of <paramref name="length"/> zero bytes is inserted and filled in 80 KiB pieces, in one transaction:
    /// readers see the previous value until the new one is complete. The transaction holds the file's write lock
    /// while <paramref name="content"/> is read, so other writers (of any process) wait for it: pass a stream that
    /// reads quickly (a file or a buffered body), not a slow network stream. A value is at most 1,000,000,000 bytes
    /// (SQLite's limit).
    /// </remarks>
    public async ValueTask WriteStreamAsync(string key, Stream content, long length, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (!content.CanRead)
        {
            throw new ArgumentException("The content stream cannot be read.", nameof(content));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var buffer = ArrayPool<byte>.Shared.Rent(BlobPieceSize);
        try
        {
            using var lease = Rent();
            var connection = lease.Connection;
            using var transaction = connection.Connection.BeginTransaction(deferred: false);
            long rowId;
            var insert = connection.Command(_sql.WriteZeroBlob);
            insert.Transaction = transaction;
            try
            {
                insert.Parameters[0].Value = key;
                insert.Parameters[1].Value = ToUnixMilliseconds(deleteAfter);
                insert.Parameters[2].Value = Now();
                insert.Parameters[3].Value = length;
                rowId = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
            }
            finally
            {
                insert.Transaction = null;
            }

            using (var blob = new SqliteBlob(connection.Connection, TableName, "value", rowId, readOnly: false))
            {
                long written = 0;
                while (written < length)
                {
                    var piece = (int)Math.Min(BlobPieceSize, length - written);
                    var read = await content.ReadAsync(buffer.AsMemory(0, piece), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new EndOfStreamException($"The content ended after {written} of the {length} bytes announced.");
                    }

                    blob.Write(buffer, 0, read);
                    written += read;
                }

                if (await content.ReadAsync(buffer.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) > 0)
                {
                    throw new ArgumentException($"The content holds more than the {length} bytes announced.", nameof(content));
                }
            }

            transaction.Commit();
            Wrote(length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private BlobReadStream? OpenReadStream(string key)
    {
        var lease = Rent();
        SqliteTransaction? transaction = null;
        try
        {
            var connection = lease.Connection;

            // The rowid lookup and the blob share one read snapshot, so the rowid cannot point at another row.
            transaction = connection.Connection.BeginTransaction(deferred: true);
            var select = connection.Command(_sql.SelectRowId);
            select.Transaction = transaction;
            object? rowId;
            try
            {
                select.Parameters[0].Value = key;
                select.Parameters[1].Value = Now();
                rowId = select.ExecuteScalar();
            }
            finally
            {
                select.Transaction = null;
            }

            if (rowId is null)
            {
                transaction.Dispose();
                lease.Dispose();
                return null;
            }

            var blob = new SqliteBlob(connection.Connection, TableName, "value", Convert.ToInt64(rowId, CultureInfo.InvariantCulture), readOnly: true);
            Touched(key);
            return new BlobReadStream(blob, transaction, lease);
        }
        catch
        {
            transaction?.Dispose();
            lease.Dispose();
            throw;
        }
    }
}
