using System.Buffers;
using System.Buffers.Binary;
using System.Net;

namespace CachedHttp.Internal;

/// <summary>
/// The body of a large entry, left in storage: where it is (storage, key, offset, length) and what the entry looked like
/// when it was looked up (its header and metadata), so that a later read serves that entry's body or fails, never
/// another entry's. Holds nothing open: each <see cref="OpenAsync"/> opens the stored value anew.
/// </summary>
internal sealed class StoredBody(BaseCache storage, string key, byte[] prefix, long length, long totalLength, bool streamed, EntrySerializer? verifier)
{
    public long Length => length;

    /// <summary>Opens a stream of the body; it fails with an <see cref="IOException"/> if the entry changed or its signature does not match.</summary>
    public async ValueTask<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        var value = await storage.OpenReadAsync(key, cancellationToken).ConfigureAwait(false)
            ?? throw new IOException("The cached body is no longer stored (the entry was deleted after it was looked up).");
        try
        {
            if (value.CanSeek && value.Length != totalLength)
            {
                throw Changed();
            }

            var head = ArrayPool<byte>.Shared.Rent(prefix.Length);
            try
            {
                var read = await value.ReadAtLeastAsync(head.AsMemory(0, prefix.Length), prefix.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (read != prefix.Length || !head.AsSpan(0, read).SequenceEqual(prefix))
                {
                    throw Changed();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(head);
            }

            var signature = verifier?.CreateVerifier(prefix, key);
            signature?.Append(prefix);
            return new BodyStream(value, length, streamed, signature);
        }
        catch
        {
            await value.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static IOException Changed() => new("The cached entry changed after it was looked up; its body is not served.");

    /// <summary>The body's bytes of an opened value; at its end, checks the trailer (length, signature).</summary>
    private sealed class BodyStream(Stream value, long length, bool streamed, EntrySerializer.SignatureVerifier? signature) : Stream
    {
        private long _position;
        private bool _checked;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
            try
            {
                var read = ReadAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
                rented.AsSpan(0, read).CopyTo(buffer);
                return read;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= length)
            {
                await CheckTrailerAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            }

            if (buffer.IsEmpty)
            {
                return 0;
            }

            var want = (int)Math.Min(buffer.Length, length - _position);
            var read = await value.ReadAsync(buffer[..want], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The cached body was truncated while it was being read.");
            }

            signature?.Append(buffer.Span[..read]);
            _position += read;
            if (_position == length)
            {
                // The trailer is checked before the last bytes are handed out as the end of the body.
                await CheckTrailerAsync(cancellationToken).ConfigureAwait(false);
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
                signature?.Dispose();
                value.Dispose();
            }

            base.Dispose(disposing);
        }

        private async ValueTask CheckTrailerAsync(CancellationToken cancellationToken)
        {
            if (_checked)
            {
                return;
            }

            _checked = true;
            var size = (streamed ? 8 : 0) + (signature is null ? 0 : 32);
            if (size == 0)
            {
                return;
            }

            var trailer = new byte[size];
            if (await value.ReadAtLeastAsync(trailer, size, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) != size)
            {
                throw new IOException("The cached body was truncated while it was being read.");
            }

            if (streamed && BinaryPrimitives.ReadInt64LittleEndian(trailer) != length)
            {
                throw new IOException("The cached entry changed while its body was being read.");
            }

            if (signature is not null)
            {
                var lengthPart = streamed ? 8 : 0;
                signature.Append(trailer.AsSpan(0, lengthPart));
                if (!signature.Matches(trailer.AsSpan(lengthPart)))
                {
                    throw new IOException("The signature of the cached entry does not match: it was changed while its body was being read.");
                }
            }
        }
    }
}

/// <summary>The content of a response served from a large entry: its body is read from storage as the caller reads it.</summary>
internal sealed class StoredBodyContent(StoredBody body) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var source = await body.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        using var source = body.OpenAsync(cancellationToken).AsTask().GetAwaiter().GetResult();
        source.CopyTo(stream);
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
        => await body.OpenAsync(cancellationToken).ConfigureAwait(false);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken)
        => body.OpenAsync(cancellationToken).AsTask().GetAwaiter().GetResult();

    protected override bool TryComputeLength(out long length)
    {
        length = body.Length;
        return true;
    }
}
