using System.Buffers.Binary;

namespace CachedHttp;

/// <content>
/// Streaming (binary format): a value written through a temporary file as it is produced and renamed into place on
/// commit, and large values read from their head or as a stream. The readable format does not stream.
/// </content>
public partial class FileCache
{
    /// <inheritdoc />
    /// <value><see langword="true"/> in the binary format; <see langword="false"/> in the readable format.</value>
    public override bool SupportsStreaming => !ReadableFormat;

    /// <inheritdoc />
    /// <remarks>
    /// The value goes to a temporary file in the store's folder (flushed to disk on commit when
    /// <see cref="FlushToDisk"/> is on), renamed over the entry's file on commit, and deleted when the stream is disposed
    /// without a commit.
    /// </remarks>
    /// <exception cref="NotSupportedException">The storage uses the readable format.</exception>
    public override async ValueTask<StorageWriteStream> OpenWriteAsync(string key, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        if (ReadableFormat)
        {
            throw new NotSupportedException("The readable format cannot write a value from a stream as it is produced; use WriteStreamAsync.");
        }

        var (keyBytes, hash) = HashKey(key);
        var path = EntryPath(hash, BinaryExtension);
        var header = BuildBinaryHeader(keyBytes, deleteAfter, 0);
        var temp = TempPath(path);
        var stream = OpenTempFile(temp, 0);
        try
        {
            await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            return new FileWriteStream(this, stream, temp, path, header.Length);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            DeleteQuietly(temp);
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>The same as <see cref="OpenReadStreamAsync"/>.</remarks>
    public override async ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        => await OpenReadStreamAsync(key, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    /// <remarks>One open of the entry's file: the header and up to 64 KiB are read at once, the rest only as needed.</remarks>
    public override async ValueTask<StoredEntryInfo?> ReadUpToAsync(string key, int maxBytes, int headBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        if (ReadableFormat)
        {
            return await base.ReadUpToAsync(key, maxBytes, headBytes, cancellationToken).ConfigureAwait(false);
        }

        var (keyBytes, hash) = HashKey(key);
        var path = EntryPath(hash, BinaryExtension);
        var (state, entry) = await OpenBinaryAsync(path, SmallFileSize, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            if (state == FileState.Corrupt)
            {
                DeleteQuietly(path);
            }

            return null;
        }

        byte[] value;
        DateTimeOffset? deleteAfter;
        using (entry)
        {
            if (!entry.KeyBytes.SequenceEqual(keyBytes))
            {
                return null; // another key with the same SHA-256
            }

            deleteAfter = entry.DeleteAfter;
            if (IsPastDeleteAfter(deleteAfter))
            {
                DeleteQuietly(path);
                return null;
            }

            var length = entry.ValueLength <= maxBytes ? entry.ValueLength : Math.Min(headBytes, entry.ValueLength);
            value = GC.AllocateUninitializedArray<byte>((int)length);
            var buffered = Math.Min(entry.Buffered - entry.HeaderLength, value.Length);
            entry.Buffer.AsSpan(entry.HeaderLength, buffered).CopyTo(value);
            var rest = value.AsMemory(buffered);
            if (await ReadFullyAsync(entry.Handle, rest, entry.HeaderLength + buffered, cancellationToken).ConfigureAwait(false) < rest.Length)
            {
                DeleteQuietly(path); // shrank while being read
                return null;
            }

            Touch(path); // a read through this path is a use, for least-recently-used eviction
            return new StoredEntryInfo(key, entry.ValueLength) { Head = value, DeleteAfter = deleteAfter };
        }
    }

    /// <summary>A value being written to a temporary file, renamed over the entry's file on commit.</summary>
    private sealed class FileWriteStream(FileCache owner, FileStream file, string temp, string path, int headerLength) : StorageWriteStream
    {
        private bool _closed;

        protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
            => file.WriteAsync(buffer, cancellationToken);

        protected override async ValueTask CommitCoreAsync(CancellationToken cancellationToken)
        {
            // The header was written with a length of 0: now the length is known.
            var length = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, BytesWritten);
            file.Position = headerLength - 8;
            await file.WriteAsync(length, cancellationToken).ConfigureAwait(false);
            if (owner.FlushToDisk)
            {
                file.Flush(flushToDisk: true);
            }

            _closed = true;
            await file.DisposeAsync().ConfigureAwait(false);
            await FileCache.CommitAsync(temp, path, cancellationToken).ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_closed)
            {
                _closed = true;
                file.Dispose();
                DeleteQuietly(temp);
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            if (!_closed)
            {
                _closed = true;
                await file.DisposeAsync().ConfigureAwait(false);
                DeleteQuietly(temp);
            }

            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
