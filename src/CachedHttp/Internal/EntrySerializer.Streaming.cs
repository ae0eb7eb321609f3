using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;

namespace CachedHttp.Internal;

/// <content>
/// Large bodies: entries written while the body streams in (flag 0x10, the body length in a trailer; see the layout in
/// <c>EntrySerializer.Envelope.cs</c>), and entries of either layout read from their head (header and metadata), their
/// body left in storage and read from it when served. Signatures are checked by reading the stored value through,
/// in pieces: before the entry is used (a bad signature is a miss), and again while the body is served.
/// </content>
internal sealed partial class EntrySerializer
{
    /// <summary>Both body lengths in the header of a streamed entry.</summary>
    private const uint UnknownLength = uint.MaxValue;

    /// <summary>The trailer of a streamed entry: the body length, Int64 little-endian.</summary>
    private const int LengthTrailerSize = 8;

    /// <summary>The metadata's body size in a streamed entry (the trailer holds the length).</summary>
    private const int StreamedBodySize = -1;

    private const int VerifyPieceSize = 81920;

    /// <summary>
    /// Tells whether a response may be stored by streaming its body: not when entries are encrypted (AES-GCM has no
    /// streaming API here) or when its body would be compressed (compression needs the whole body).
    /// </summary>
    public bool CanStream(CachedResponse response)
    {
        if (_encryptionKeys.Length > 0)
        {
            return false;
        }

        if (_compression == CacheCompression.None)
        {
            return true;
        }

        var encoded = response.ContentHeaders.GetValue("Content-Encoding") is { } encoding && !encoding.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase);
        return encoded || !IsCompressibleMediaType(response.ContentHeaders.GetValue("Content-Type"));
    }

    /// <summary>Starts a streamed entry of <paramref name="response"/> (its body is ignored) under <paramref name="key"/>.</summary>
    public StreamedEntryWriter BeginStreamed(CachedResponse response, string key)
    {
        var metadata = ToMetadata(response, StreamedBodySize);
        var json = JsonBuffer.Rent();
        try
        {
            JsonSerializer.Serialize(json.Writer, metadata, StoredJsonContext.Default.StoredResponse);
            var metadataBytes = json.Written;
            var signer = _signingKeys.Length > 0 ? _signingKeys[0] : null;
            var flags = EntryFlags.Streamed | (signer is null ? EntryFlags.None : EntryFlags.Signed);
            var headerSize = HeaderSize(flags);
            var prefix = new byte[headerSize + metadataBytes.Length];
            var span = prefix.AsSpan();
            Magic.CopyTo(span);
            span[3] = CurrentVersion;
            span[4] = (byte)flags;
            span[5] = (byte)EntryKind.Response;
            BinaryPrimitives.WriteInt64LittleEndian(span.Slice(6, 8), ToUnixMilliseconds(response.ExpiresAt));
            BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(14, 4), UnknownLength);
            BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(18, 4), UnknownLength);
            BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(22, 4), (uint)metadataBytes.Length);
            if (signer is not null)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(FixedHeaderSize, KeyIdSize), signer.Id);
            }

            metadataBytes.CopyTo(span[headerSize..]);
            return new StreamedEntryWriter(prefix, signer is null ? null : IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, signer.Key), KeyContext(key));
        }
        finally
        {
            json.Return();
        }
    }

    /// <summary>
    /// Decodes a response entry from its head (the first bytes of a value of <paramref name="totalLength"/> bytes),
    /// leaving its body in <paramref name="storage"/>; or returns <see langword="null"/> when the entry must be read
    /// whole (version 1, compressed or encrypted, a Vary index, or metadata that does not fit in the head).
    /// </summary>
    /// <exception cref="CacheFormatException">The head is not that of a readable entry.</exception>
    public CachedResponse? TryOpenHead(ReadOnlySpan<byte> head, long totalLength, string key, BaseCache storage)
    {
        var header = ReadClearHeader(head);
        if (header.Version == Version1 || header.Kind != EntryKind.Response || (header.Flags & (CompressionFlags | EntryFlags.Encrypted)) != 0)
        {
            return null;
        }

        var flags = header.Flags;
        var signed = (flags & EntryFlags.Signed) != 0;
        var streamed = (flags & EntryFlags.Streamed) != 0;
        var headerSize = HeaderSize(flags);
        var trailerSize = TrailerSize(flags);
        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(head.Slice(22, 4));
        if (head.Length < headerSize || metadataLength > (uint)(head.Length - headerSize))
        {
            return null;
        }

        var bodyOffset = headerSize + (int)metadataLength;
        var bodyLength = totalLength - bodyOffset - trailerSize;
        if (bodyLength < 0)
        {
            throw new CacheFormatException(RejectReason.Truncated, "The entry's length does not match its header.");
        }

        var declared = BinaryPrimitives.ReadUInt32LittleEndian(head.Slice(14, 4));
        var declaredStored = BinaryPrimitives.ReadUInt32LittleEndian(head.Slice(18, 4));
        if (streamed ? declared != UnknownLength || declaredStored != UnknownLength : declared != bodyLength || declaredStored != bodyLength)
        {
            throw new CacheFormatException(RejectReason.Truncated, "The entry's length does not match its header.");
        }

        if (bodyLength > int.MaxValue)
        {
            return null;
        }

        if (_signingKeys.Length > 0 && !signed)
        {
            throw new CacheFormatException(RejectReason.Unsigned, "The entry is not signed and signing is on.");
        }

        if (_encryptionKeys.Length > 0)
        {
            throw new CacheFormatException(RejectReason.Unencrypted, "The entry is not encrypted and encryption is on.");
        }

        var keyId = signed ? BinaryPrimitives.ReadUInt32LittleEndian(head.Slice(FixedHeaderSize, KeyIdSize)) : 0;
        if (signed && !_signingKeys.Any(k => k.Id == keyId))
        {
            throw new CacheFormatException(RejectReason.UnknownKey, "The entry was signed with a key that is not configured.");
        }

        var prefix = head[..bodyOffset].ToArray();
        var opened = new OpenedEntry(prefix.AsMemory(headerSize), ReadOnlyMemory<byte>.Empty, (int)bodyLength, ToUnixMilliseconds(header.ExpiresAt), streamed);
        var body = new StoredBody(storage, key, prefix, bodyLength, totalLength, streamed, signed ? this : null);
        return FromStored(ParseMetadata(opened), ReadOnlyMemory<byte>.Empty) with { StoredBody = body };
    }

    /// <summary>Checks the signature of a signed entry by reading the stored value through, piece by piece.</summary>
    /// <exception cref="CacheFormatException">The value changed length, or its signature does not match.</exception>
    public async ValueTask VerifyStoredAsync(Stream value, long totalLength, string key, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(VerifyPieceSize);
        try
        {
            var first = await ReadAtLeastAsync(value, buffer.AsMemory(0, FixedHeaderSize + KeyIdSize), cancellationToken).ConfigureAwait(false);
            using var verifier = CreateVerifier(buffer.AsSpan(0, first), key) ?? throw new CacheFormatException(RejectReason.UnknownKey, "The entry was signed with a key that is not configured.");
            verifier.Append(buffer.AsSpan(0, first));
            var remaining = totalLength - MacSize - first;
            while (remaining > 0)
            {
                var read = await value.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new CacheFormatException(RejectReason.Truncated, "The entry is shorter than it was.");
                }

                verifier.Append(buffer.AsSpan(0, read));
                remaining -= read;
            }

            var mac = await ReadAtLeastAsync(value, buffer.AsMemory(0, MacSize), cancellationToken).ConfigureAwait(false);
            if (mac != MacSize || !verifier.Matches(buffer.AsSpan(0, MacSize)))
            {
                throw new CacheFormatException(RejectReason.Signature, "The signature does not match: the entry was changed or moved.");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>An incremental check of the signature of the entry whose header is <paramref name="header"/>, or null when no configured key has its id.</summary>
    public SignatureVerifier? CreateVerifier(ReadOnlySpan<byte> header, string key)
    {
        if (header.Length < FixedHeaderSize + KeyIdSize)
        {
            return null;
        }

        var id = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(FixedHeaderSize, KeyIdSize));
        var macs = _signingKeys.Where(k => k.Id == id).Select(k => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, k.Key)).ToArray();
        return macs.Length == 0 ? null : new SignatureVerifier(macs, KeyContext(key));
    }

    private static async ValueTask<int> ReadAtLeastAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
        => await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);

    /// <summary>The HMACs of the signing keys that have an entry's key id (usually one), fed the entry as it is read.</summary>
    internal sealed class SignatureVerifier(IncrementalHash[] macs, byte[] context) : IDisposable
    {
        public void Append(ReadOnlySpan<byte> data)
        {
            foreach (var mac in macs)
            {
                mac.AppendData(data);
            }
        }

        /// <summary>Tells whether the signature at the end of the entry is that of one of the keys.</summary>
        public bool Matches(ReadOnlySpan<byte> signature)
        {
            Span<byte> computed = stackalloc byte[MacSize];
            var matches = false;
            foreach (var mac in macs)
            {
                mac.AppendData(context);
                mac.GetHashAndReset(computed);
                matches |= CryptographicOperations.FixedTimeEquals(computed, signature);
            }

            return matches;
        }

        public void Dispose()
        {
            foreach (var mac in macs)
            {
                mac.Dispose();
            }
        }
    }

    /// <summary>
    /// Writes one streamed entry to a stream: <see cref="StartAsync"/> (header and metadata), the body in pieces, then
    /// <see cref="FinishAsync"/> (the length trailer and, when signing, the HMAC of everything before it).
    /// </summary>
    internal sealed class StreamedEntryWriter(byte[] prefix, IncrementalHash? mac, byte[] context) : IDisposable
    {
        /// <summary>Gets the header and metadata, which the body follows.</summary>
        public byte[] Prefix => prefix;

        /// <summary>Gets a value indicating whether the entry is signed.</summary>
        public bool Signed => mac is not null;

        /// <summary>Gets the number of body bytes written.</summary>
        public long BodyLength { get; private set; }

        /// <summary>Gets the length of the whole entry once finished.</summary>
        public long TotalLength => prefix.Length + BodyLength + LengthTrailerSize + (mac is null ? 0 : MacSize);

        public async ValueTask StartAsync(Stream target, CancellationToken cancellationToken)
        {
            mac?.AppendData(prefix);
            await target.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask WriteBodyAsync(Stream target, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            mac?.AppendData(body.Span);
            await target.WriteAsync(body, cancellationToken).ConfigureAwait(false);
            BodyLength += body.Length;
        }

        public async ValueTask FinishAsync(Stream target, CancellationToken cancellationToken)
        {
            var trailer = new byte[LengthTrailerSize + (mac is null ? 0 : MacSize)];
            BinaryPrimitives.WriteInt64LittleEndian(trailer, BodyLength);
            if (mac is not null)
            {
                mac.AppendData(trailer.AsSpan(0, LengthTrailerSize));
                mac.AppendData(context);
                mac.GetHashAndReset(trailer.AsSpan(LengthTrailerSize));
            }

            await target.WriteAsync(trailer, cancellationToken).ConfigureAwait(false);
        }

        public void Dispose() => mac?.Dispose();
    }
}
