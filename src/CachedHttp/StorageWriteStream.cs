namespace CachedHttp;

/// <summary>
/// A write-only stream that stores what is written to it as one value of a <see cref="BaseCache"/>, returned by
/// <see cref="BaseCache.OpenWriteAsync"/>: the value appears, whole and at once, only when <see cref="CommitAsync"/>
/// completes; disposed without a commit (the write failed or was abandoned), it leaves no trace and the previous value
/// of the key stays.
/// </summary>
/// <remarks>Not thread-safe, like any stream. The caller disposes it, committed or not.</remarks>
public abstract class StorageWriteStream : Stream
{
    /// <summary>Gets the number of bytes written so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Gets a value indicating whether <see cref="CommitAsync"/> has completed.</summary>
    public bool IsCommitted { get; private set; }

    /// <inheritdoc />
    public override bool CanRead => false;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => !IsCommitted;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException("The stream is write-only.");

    /// <inheritdoc />
    public override long Position
    {
        get => BytesWritten;
        set => throw new NotSupportedException("The stream is write-only.");
    }

    /// <summary>Makes the written bytes the value of the key, atomically: readers see the previous value or this one whole.</summary>
    /// <param name="cancellationToken">A token to cancel the operation; a cancelled commit leaves the previous value.</param>
    /// <exception cref="InvalidOperationException">The stream was committed already.</exception>
    public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        if (IsCommitted)
        {
            throw new InvalidOperationException("The value was committed already.");
        }

        await CommitCoreAsync(cancellationToken).ConfigureAwait(false);
        IsCommitted = true;
    }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (IsCommitted)
        {
            throw new InvalidOperationException("The value was committed already.");
        }

        await WriteCoreAsync(buffer, cancellationToken).ConfigureAwait(false);
        BytesWritten += buffer.Length;
    }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("The stream is write-only.");

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("The stream cannot seek.");

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("The stream cannot seek.");

    /// <summary>Writes bytes to where the value is being put together (a temporary file, an upload).</summary>
    /// <param name="buffer">The bytes.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    protected abstract ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Makes what was written the value of the key, atomically.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    protected abstract ValueTask CommitCoreAsync(CancellationToken cancellationToken);
}
