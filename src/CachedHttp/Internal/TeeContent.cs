using System.Net;

namespace CachedHttp.Internal;

/// <summary>
/// Wraps a live response body: the caller reads (or HttpClient buffers) it as usual while the bytes are copied
/// aside, up to a size limit. When the body has been read to its end, <c>onComplete</c> receives the bytes
/// (and may store them); a failed or cancelled read calls <c>onFailed</c>; disposal before the end calls
/// <c>onAbandoned</c>. Exactly one of the three is called, once. A body over the limit is never held whole.
/// </summary>
internal sealed class TeeContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly long _maxBytes;
    private readonly Func<ReadOnlyMemory<byte>, ValueTask> _onComplete;
    private readonly Action<Exception> _onFailed;
    private readonly Action<bool> _onAbandoned;
    private int _finished;

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
        private bool _overflow;

        public TeeStream(Stream source, TeeContent owner)
        {
            _source = source;
            _owner = owner;
            var expected = owner._inner.Headers.ContentLength;
            if (expected > owner._maxBytes)
            {
                _overflow = true;
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

        private ValueTask CompleteAsync()
        {
            if (!_owner.TryFinish())
            {
                return ValueTask.CompletedTask;
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
                _copy?.Dispose();
                _copy = null;
                _owner._onFailed(ex);
            }
        }
    }
}
