using System.Net;

namespace CachedHttp.Internal;

/// <summary>
/// Wraps a live response body: the caller reads (or HttpClient buffers) it as usual while the bytes are copied
/// aside, up to a size limit. When the body has been read to its end, <c>onComplete</c> receives the bytes
/// (and may store them); a failed or cancelled read calls <c>onFailed</c>; disposal before the end calls
/// <c>onAbandoned</c>. Exactly one of the three is called, once. A body over the limit is never held whole.
/// With a <see cref="Streaming"/> target, a body larger than its threshold (known from Content-Length, or found while
/// reading) is written to storage as it is read instead of being copied aside; its end then calls the target's
/// <see cref="StreamingTarget.OnStreamedAsync"/> instead of <c>onComplete</c>.
/// </summary>
internal sealed class TeeContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly long _maxBytes;
    private readonly Func<ReadOnlyMemory<byte>, ValueTask> _onComplete;
    private readonly Action<Exception> _onFailed;
    private readonly Action<bool> _onAbandoned;
    private int _finished;

    /// <summary>Gets the storage that large bodies stream to, or null to copy every body aside.</summary>
    public StreamingTarget? Streaming { get; init; }

    public TeeContent(HttpContent inner, long maxBytes, Func<ReadOnlyMemory<byte>, ValueTask> onComplete, Action<Exception> onFailed, Action<bool> onAbandoned)
    {
        _inner = inner;
        _maxBytes = maxBytes;
        _onComplete = onComplete;
        _onFailed = onFailed;
        _onAbandoned = onAbandoned;
        foreach (var header in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        using var source = CreateContentReadStream(cancellationToken);
        source.CopyTo(stream);
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
        => new TeeStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), this);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken)
        => new TeeStream(_inner.ReadAsStream(cancellationToken), this);

    protected override bool TryComputeLength(out long length)
    {
        var known = _inner.Headers.ContentLength;
        length = known ?? 0;
        return known.HasValue;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Abandon(partial: false);
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private bool TryFinish() => Interlocked.Exchange(ref _finished, 1) == 0;

    private void Abandon(bool partial)
    {
        if (TryFinish())
        {
            _onAbandoned(partial);
        }
    }

    private sealed class TeeStream : Stream
    {
        private readonly Stream _source;
        private readonly TeeContent _owner;
        private MemoryStream? _copy;
        private PooledBuffer? _pending;
        private StreamedStore? _store;
        private bool _streamFromStart;
        private bool _overflow;
        private long _total;

        public TeeStream(Stream source, TeeContent owner)
        {
            _source = source;
            _owner = owner;
            var expected = owner._inner.Headers.ContentLength;
            if (expected > owner._maxBytes)
            {
                _overflow = true;
            }
            else if (owner.Streaming is { } streaming && expected > streaming.Threshold)
            {
                _streamFromStart = true;
            }
            else if (owner.Streaming is not null && expected is null)
            {
                // Unknown length, maybe large: copied aside in pooled pieces, so that growing leaves no garbage behind.
                _pending = new PooledBuffer();
            }
            else
            {
                _copy = new MemoryStream(expected is > 0 ? (int)expected.Value : 0);
            }
        }

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

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = _source.Read(buffer);
            }
            catch (Exception ex)
            {
                Fail(ex);
                throw;
            }

            if (read == 0)
            {
                CompleteAsync().AsTask().GetAwaiter().GetResult();
            }
            else if (_store is not null || _streamFromStart || _owner.Streaming is not null)
            {
                var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(read);
                try
                {
                    buffer[..read].CopyTo(rented);
                    AppendAsync(rented.AsMemory(0, read), CancellationToken.None).AsTask().GetAwaiter().GetResult();
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(rented);
                }
            }
            else
            {
                Append(buffer[..read]);
            }

            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read;
            try
            {
                read = await _source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Fail(ex);
                throw;
            }

            if (read == 0)
            {
                await CompleteAsync().ConfigureAwait(false);
            }
            else if (_store is not null || _streamFromStart || _owner.Streaming is not null)
            {
                await AppendAsync(buffer[..read], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                Append(buffer.Span[..read]);
            }

            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                DiscardStore();
                _pending?.Dispose();
                _pending = null;
                _owner.Abandon(partial: true);
                _source.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Append(ReadOnlySpan<byte> data)
        {
            if (_overflow)
            {
                return;
            }

            if (_copy!.Length + data.Length > _owner._maxBytes)
            {
                // Over the limit: let go of what was copied; the body streams through uncached.
                _overflow = true;
                _copy.Dispose();
                _copy = null;
                return;
            }

            _copy.Write(data);
        }

        /// <summary>Appends what was read, streaming it to storage once the body is known to be large.</summary>
        private async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (_overflow)
            {
                return;
            }

            _total += data.Length;
            if (_total > _owner._maxBytes)
            {
                _overflow = true;
                ReleaseCopies();
                DiscardStore();
                return;
            }

            var streaming = _owner.Streaming!;
            if (_store is null && (_streamFromStart || _total > streaming.Threshold))
            {
                if (!await TryStartStoreAsync(streaming, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }

            if (_store is null)
            {
                if (_pending is not null)
                {
                    _pending.Write(data.Span);
                }
                else
                {
                    _copy!.Write(data.Span);
                }

                return;
            }

            try
            {
                await _store.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A storage failure never fails the caller's read: the body streams on, uncached.
                streaming.OnStoreFailed(ex);
                _overflow = true;
                DiscardStore();
            }
        }

        /// <summary>Opens the storage write and moves what was copied aside into it; on failure the body goes on uncached.</summary>
        private async ValueTask<bool> TryStartStoreAsync(StreamingTarget streaming, CancellationToken cancellationToken)
        {
            try
            {
                _store = await streaming.StartAsync(cancellationToken).ConfigureAwait(false);
                if (_store is not null && _copy is { Length: > 0 })
                {
                    await _store.WriteAsync(_copy.GetBuffer().AsMemory(0, (int)_copy.Length), cancellationToken).ConfigureAwait(false);
                }

                if (_store is not null && _pending is not null)
                {
                    await _pending.CopyToAsync(_store, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                streaming.OnStoreFailed(ex);
                DiscardStore();
            }

            ReleaseCopies();
            if (_store is null)
            {
                _overflow = true;
                return false;
            }

            return true;
        }

        private void ReleaseCopies()
        {
            _copy?.Dispose();
            _copy = null;
            _pending?.Dispose();
            _pending = null;
        }

        private void DiscardStore()
        {
            var store = _store;
            _store = null;
            store?.Dispose();
        }

        private ValueTask CompleteAsync()
        {
            if (!_owner.TryFinish())
            {
                return ValueTask.CompletedTask;
            }

            if (_store is { } store)
            {
                _store = null;
                return _owner.Streaming!.OnStreamedAsync(store);
            }

            if (_pending is { } pending)
            {
                // A small body after all: one array of its exact size, which the stored response keeps.
                _pending = null;
                var body = pending.ToArray();
                pending.Dispose();
                return _owner._onComplete(body);
            }

            if (_overflow || _copy is null)
            {
                _owner._onAbandoned(false);
                return ValueTask.CompletedTask;
            }

            return _owner._onComplete(_copy.GetBuffer().AsMemory(0, (int)_copy.Length));
        }

        private void Fail(Exception ex)
        {
            if (_owner.TryFinish())
            {
                ReleaseCopies();
                DiscardStore();
                _owner._onFailed(ex);
            }
        }
    }
}

/// <summary>Where a <see cref="TeeContent"/> streams a large body, and what it calls at the end.</summary>
/// <param name="Threshold">The body size above which the body is streamed (<see cref="CacheOptions.StreamingThreshold"/>).</param>
/// <param name="StartAsync">Opens the storage write; null when the body cannot be streamed after all.</param>
/// <param name="OnStreamedAsync">Called with the store once the whole body was written to it: commits it (or discards it) and disposes it.</param>
/// <param name="OnStoreFailed">Called when the storage fails while the body streams; the body then goes on uncached.</param>
internal sealed record StreamingTarget(
    long Threshold,
    Func<CancellationToken, ValueTask<StreamedStore?>> StartAsync,
    Func<StreamedStore, ValueTask> OnStreamedAsync,
    Action<Exception> OnStoreFailed);

/// <summary>Bytes copied aside in pooled 64 KiB pieces: no large array, and nothing left behind when it is disposed.</summary>
internal sealed class PooledBuffer : IDisposable
{
    private const int PieceSize = 64 * 1024;
    private readonly List<byte[]> _pieces = [];
    private int _used = PieceSize;

    public long Length { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_used == PieceSize)
            {
                _pieces.Add(System.Buffers.ArrayPool<byte>.Shared.Rent(PieceSize));
                _used = 0;
            }

            var count = Math.Min(data.Length, PieceSize - _used);
            data[..count].CopyTo(_pieces[^1].AsSpan(_used));
            _used += count;
            Length += count;
            data = data[count..];
        }
    }

    public async ValueTask CopyToAsync(StreamedStore store, CancellationToken cancellationToken)
    {
        for (var i = 0; i < _pieces.Count; i++)
        {
            var count = i == _pieces.Count - 1 ? _used : PieceSize;
            await store.WriteAsync(_pieces[i].AsMemory(0, count), cancellationToken).ConfigureAwait(false);
        }
    }

    public byte[] ToArray()
    {
        var result = new byte[Length];
        var offset = 0;
        for (var i = 0; i < _pieces.Count; i++)
        {
            var count = i == _pieces.Count - 1 ? _used : PieceSize;
            _pieces[i].AsSpan(0, count).CopyTo(result.AsSpan(offset));
            offset += count;
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var piece in _pieces)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(piece);
        }

        _pieces.Clear();
        _used = PieceSize;
        Length = 0;
    }
}
