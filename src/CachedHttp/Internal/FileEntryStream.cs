using Microsoft.Win32.SafeHandles;

namespace CachedHttp.Internal;

/// <summary>
/// A read-only, seekable view of one stored value: an in-memory prefix (empty, or a readable entry's rebuilt envelope
/// header and metadata) followed by a range of an open file. Reads go straight to the file at an offset, without a
/// buffer of their own. Owns and closes the file handle.
/// </summary>
internal sealed class FileEntryStream : Stream
{
    private readonly SafeFileHandle _handle;
    private readonly byte[] _prefix;
    private readonly long _fileStart;
    private readonly long _length;
    private long _position;

    /// <summary>Initializes the view.</summary>
    /// <param name="handle">The open file; disposed with the stream.</param>
    /// <param name="prefix">The bytes that come before the file's range.</param>
    /// <param name="fileStart">Where the range starts in the file.</param>
    /// <param name="length">The length of the whole value: the prefix plus the file's range.</param>
    public FileEntryStream(SafeFileHandle handle, byte[] prefix, long fileStart, long length)
    {
        _handle = handle;
        _prefix = prefix;
        _fileStart = fileStart;
        _length = length;
    }

    public override bool CanRead => !_handle.IsClosed;

    public override bool CanSeek => !_handle.IsClosed;

    public override bool CanWrite => false;

    public override long Length
    {
        get
        {
            ThrowIfDisposed();
            return _length;
        }
    }

    public override long Position
    {
        get
        {
            ThrowIfDisposed();
            return _position;
        }

        set
        {
            ThrowIfDisposed();
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
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
        if (TryReadPrefix(buffer, out var count, out var fileOffset))
        {
            return count;
        }

        return Advance(RandomAccess.Read(_handle, buffer[..count], fileOffset), count);
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (TryReadPrefix(buffer.Span, out var count, out var fileOffset))
        {
            return count;
        }

        return Advance(await RandomAccess.ReadAsync(_handle, buffer[..count], fileOffset, cancellationToken).ConfigureAwait(false), count);
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        ThrowIfDisposed();
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => _length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        if (target < 0)
        {
            throw new IOException("An attempt was made to move the position before the beginning of the stream.");
        }

        _position = target;
        return target;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException("The stream is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The stream is read-only.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _handle.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// Serves a read from the prefix (returns true), or works out how much to read from the file and where
    /// (returns false). At the end of the value, returns true with a count of 0.
    /// </summary>
    private bool TryReadPrefix(Span<byte> buffer, out int count, out long fileOffset)
    {
        fileOffset = 0;
        if (_position >= _length || buffer.IsEmpty)
        {
            count = 0;
            return true;
        }

        if (_position < _prefix.Length)
        {
            count = (int)Math.Min(buffer.Length, _prefix.Length - _position);
            _prefix.AsSpan((int)_position, count).CopyTo(buffer);
            _position += count;
            return true;
        }

        count = (int)Math.Min(buffer.Length, _length - _position);
        fileOffset = _fileStart + (_position - _prefix.Length);
        return false;
    }

    private int Advance(int read, int wanted)
    {
        if (read == 0 && wanted > 0)
        {
            throw new IOException("The cache file was truncated while it was being read.");
        }

        _position += read;
        return read;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
}
