namespace CachedHttp.Tests.Unit.Infrastructure;

/// <summary>A read-only, non-seekable stream base (so that no Content-Length is computed from it).</summary>
public abstract class ReadOnlyStubStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Serves <c>total</c> bytes (byte i has the value i % 251) in chunks of at most <c>chunkSize</c>, counting what it served.</summary>
public sealed class ChunkedStream(long total, int chunkSize = 4096, TimeSpan delayPerChunk = default) : ReadOnlyStubStream
{
    private long _served;

    public long BytesServed => Interlocked.Read(ref _served);

    public bool IsDisposed { get; private set; }

    public static byte[] Expected(long total)
    {
        var bytes = new byte[total];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i % 251);
        }

        return bytes;
    }

    public override int Read(Span<byte> buffer)
    {
        if (delayPerChunk > TimeSpan.Zero)
        {
            Thread.Sleep(delayPerChunk);
        }

        return Fill(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (delayPerChunk > TimeSpan.Zero)
        {
            await Task.Delay(delayPerChunk, cancellationToken);
        }

        return Fill(buffer.Span);
    }

    protected override void Dispose(bool disposing)
    {
        IsDisposed = true;
        base.Dispose(disposing);
    }

    private int Fill(Span<byte> buffer)
    {
        var remaining = total - _served;
        var count = (int)Math.Min(Math.Min(remaining, chunkSize), buffer.Length);
        for (var i = 0; i < count; i++)
        {
            buffer[i] = (byte)((_served + i) % 251);
        }

        Interlocked.Add(ref _served, count);
        return count;
    }
}

/// <summary>Serves <c>prefix</c>, then throws <c>error</c> on the next read (a connection dropped mid-body).</summary>
public sealed class FailingStream(byte[] prefix, Exception error) : ReadOnlyStubStream
{
    private int _position;

    public override int Read(Span<byte> buffer)
    {
        if (_position >= prefix.Length)
        {
            throw error;
        }

        var count = Math.Min(buffer.Length, prefix.Length - _position);
        prefix.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }
}

/// <summary>Serves <c>first</c>, then waits for <c>gate</c> (or the read's cancellation), then serves <c>rest</c>.</summary>
public sealed class BlockingStream(byte[] first, Task gate, byte[]? rest = null) : ReadOnlyStubStream
{
    private readonly TaskCompletionSource _firstServed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _rest = rest ?? [];
    private int _firstPosition;
    private int _restPosition;

    /// <summary>Completes when the first part has been read.</summary>
    public Task FirstPartServed => _firstServed.Task;

    public override int Read(Span<byte> buffer)
    {
        var temporary = new byte[buffer.Length];
        var count = ReadAsync(temporary).AsTask().GetAwaiter().GetResult();
        temporary.AsSpan(0, count).CopyTo(buffer);
        return count;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_firstPosition < first.Length)
        {
            var count = Math.Min(buffer.Length, first.Length - _firstPosition);
            first.AsMemory(_firstPosition, count).CopyTo(buffer);
            _firstPosition += count;
            if (_firstPosition == first.Length)
            {
                _firstServed.TrySetResult();
            }

            return count;
        }

        await gate.WaitAsync(cancellationToken);
        var restCount = Math.Min(buffer.Length, _rest.Length - _restPosition);
        _rest.AsMemory(_restPosition, restCount).CopyTo(buffer);
        _restPosition += restCount;
        return restCount;
    }
}
