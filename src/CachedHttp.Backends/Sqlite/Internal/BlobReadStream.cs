using Microsoft.Data.Sqlite;

namespace CachedHttp.Sqlite.Internal;

/// <summary>
/// A read-only view of one stored value (a <see cref="SqliteBlob"/>) that owns the read transaction and the pooled
/// connection it was opened on, and gives them back when disposed. Reads are synchronous file reads.
/// </summary>
internal sealed class BlobReadStream : Stream
{
    private readonly SqliteBlob _blob;
    private readonly SqliteTransaction _transaction;
    private readonly ConnectionLease _lease;
    private int _disposed;

    public BlobReadStream(SqliteBlob blob, SqliteTransaction transaction, ConnectionLease lease)
    {
        _blob = blob;
        _transaction = transaction;
        _lease = lease;
    }

    public override bool CanRead => _disposed == 0;

    public override bool CanSeek => _disposed == 0;

    public override bool CanWrite => false;

    public override long Length
    {
        get
        {
            ThrowIfDisposed();
            return _blob.Length;
        }
    }

    public override long Position
    {
        get
        {
            ThrowIfDisposed();
            return _blob.Position;
        }

        set
        {
            ThrowIfDisposed();
            _blob.Position = value;
        }
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public override int Read(Span<byte> buffer)
    {
        ThrowIfDisposed();
        return _blob.Read(buffer);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        try
        {
            return ValueTask.FromResult(Read(buffer.Span));
        }
        catch (Exception exception)
        {
            return ValueTask.FromException<int>(exception);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        ThrowIfDisposed();
        return _blob.Seek(offset, origin);
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException("A stored value cannot be resized through a read stream.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The stream is read-only.");

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                _blob.Dispose();
                _transaction.Dispose();
            }
            finally
            {
                _lease.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);
}
