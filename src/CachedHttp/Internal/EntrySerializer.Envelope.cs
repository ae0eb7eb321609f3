using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace CachedHttp.Internal;

/// <content>
/// The envelope. Version 2 (written now), all integers little-endian:
/// <code>
///  0  3  magic "CHC"
///  3  1  version = 2
///  4  1  flags: 0x01 Brotli, 0x02 GZip (body compressed), 0x04 encrypted, 0x08 signed; other bits must be 0
///  5  1  kind: 0 response, 1 Vary index
///  6  8  expires-at, Unix milliseconds (Int64.MaxValue: never) — readable without keys, for expiry sweeps
/// 14  4  body length (uncompressed)
/// 18  4  stored body length (compressed, or the body length)
/// 22  4  metadata length
/// 26  4  signing key id                        (when signed)
///  .  4  encryption key id, 12 nonce           (when encrypted)
///  H  .  metadata JSON, then body (compressed when flagged) — AES-GCM ciphertext of both when encrypted
///  .  16 AES-GCM tag                           (when encrypted; associated data = bytes 0..H, storage key, its length)
///  .  32 HMAC-SHA256 of every byte before it, storage key, its length   (when signed)
/// </code>
/// A key id is the first 4 bytes of the key's SHA-256. Version 1 (still read): magic, 1, flags = 0, kind, metadata
/// length (4), metadata, body.
/// <para>
/// Flag 0x10 (streamed, see <c>EntrySerializer.Streaming.cs</c>) marks an entry written as its body streamed in, whose
/// length was not known when the header was: both body lengths in the header are 0xFFFFFFFF, the metadata's body size
/// is -1, and an 8-byte trailer (the body length, Int64) follows the body, before the HMAC. Never with compression or
/// encryption. Readers before it reject the flag (a miss), so no reader misreads such an entry.
/// </para>
/// </content>
internal sealed partial class EntrySerializer
{
    public const byte CurrentVersion = 2;
    private const byte Version1 = 1;
    private const int Version1HeaderSize = 10;
    private const int FixedHeaderSize = 26;
    private const int KeyIdSize = 4;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int MacSize = 32;
    private const long NoExpiry = long.MaxValue;
    private const EntryFlags KnownFlags = EntryFlags.Brotli | EntryFlags.GZip | EntryFlags.Encrypted | EntryFlags.Signed | EntryFlags.Streamed;
    private const EntryFlags CompressionFlags = EntryFlags.Brotli | EntryFlags.GZip;

    private readonly CacheCompression _compression;
    private readonly int _compressionThreshold;
    private readonly int _brotliQuality;
    private readonly CompressionLevel _compressionLevel;
    private readonly int _maxCompressedBody;
    private readonly ProtectionKey[] _signingKeys;
    private readonly ProtectionKey[] _encryptionKeys;

    [Flags]
    internal enum EntryFlags : byte
    {
        None = 0,
        Brotli = 0x01,
        GZip = 0x02,
        Encrypted = 0x04,
        Signed = 0x08,
        Streamed = 0x10,
    }

    private static ReadOnlySpan<byte> Magic => "CHC"u8;

    /// <summary>Reads the kind of an entry from its clear header (no key needed, nothing authenticated).</summary>
    public static EntryKind ReadKind(ReadOnlySpan<byte> data) => ReadClearHeader(data).Kind;

    /// <summary>Reads the clear header: version, kind, flags and (version 2) expiry — unauthenticated, for sweeps and inspection.</summary>
    public static ClearHeader ReadClearHeader(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4 || !data[..3].SequenceEqual(Magic))
        {
            throw new CacheFormatException("Not a CachedHttp entry.");
        }

        var version = data[3];
        if (version == Version1)
        {
            if (data.Length < Version1HeaderSize)
            {
                throw new CacheFormatException(RejectReason.Truncated, "Truncated entry header.");
            }

            if (data[4] != 0)
            {
                throw new CacheFormatException(RejectReason.Flags, $"Unsupported version 1 entry flags {data[4]}.");
            }

            return new ClearHeader(Version1, ParseKind(data[5]), EntryFlags.None, null, HasExpiry: false);
        }

        if (version != CurrentVersion)
        {
            throw new CacheFormatException(RejectReason.Version, $"Unknown entry version {version}.");
        }

        if (data.Length < FixedHeaderSize)
        {
            throw new CacheFormatException(RejectReason.Truncated, "Truncated entry header.");
        }

        var flags = (EntryFlags)data[4];
        if ((flags & ~KnownFlags) != 0 || (flags & CompressionFlags) == CompressionFlags)
        {
            throw new CacheFormatException(RejectReason.Flags, $"Unsupported entry flags 0x{data[4]:x2}.");
        }

        var kind = ParseKind(data[5]);
        var expires = BinaryPrimitives.ReadInt64LittleEndian(data.Slice(6, 8));
        DateTimeOffset? expiresAt = expires switch
        {
            NoExpiry => null,
            >= -62_135_596_800_000 and <= 253_402_300_799_999 => DateTimeOffset.FromUnixTimeMilliseconds(expires),
            _ => throw new CacheFormatException("Expiry time out of range."),
        };
        return new ClearHeader(CurrentVersion, kind, flags, expiresAt, HasExpiry: true);
    }

    /// <summary>Tells whether an entry lacks a protection this serializer requires (so it can never be served here).</summary>
    public bool LacksRequiredProtection(in ClearHeader header)
        => (_signingKeys.Length > 0 && (header.Flags & EntryFlags.Signed) == 0)
            || (_encryptionKeys.Length > 0 && (header.Flags & EntryFlags.Encrypted) == 0);

    private static EntryKind ParseKind(byte value)
        => value switch
        {
            (byte)EntryKind.Response => EntryKind.Response,
            (byte)EntryKind.VaryIndex => EntryKind.VaryIndex,
            _ => throw new CacheFormatException($"Unknown entry kind {value}."),
        };

    private static long ToUnixMilliseconds(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds() ?? NoExpiry;

    private static int HeaderSize(EntryFlags flags)
        => FixedHeaderSize
            + ((flags & EntryFlags.Signed) != 0 ? KeyIdSize : 0)
            + ((flags & EntryFlags.Encrypted) != 0 ? KeyIdSize + NonceSize : 0);

    private static int TrailerSize(EntryFlags flags)
        => ((flags & EntryFlags.Encrypted) != 0 ? TagSize : 0)
            + ((flags & EntryFlags.Streamed) != 0 ? LengthTrailerSize : 0)
            + ((flags & EntryFlags.Signed) != 0 ? MacSize : 0);

    /// <summary>What binds an entry to the key it is stored under: the key's UTF-8 bytes, then their count.</summary>
    private static byte[] KeyContext(string key)
    {
        var length = Encoding.UTF8.GetByteCount(key);
        var context = new byte[length + 4];
        Encoding.UTF8.GetBytes(key, context);
        BinaryPrimitives.WriteInt32LittleEndian(context.AsSpan(length), length);
        return context;
    }

    private static byte[] AssociatedData(ReadOnlySpan<byte> header, byte[] context)
    {
        var data = new byte[header.Length + context.Length];
        header.CopyTo(data);
        context.CopyTo(data.AsSpan(header.Length));
        return data;
    }

    private byte[] Seal(EntryKind kind, string key, DateTimeOffset? expiresAt, ReadOnlySpan<byte> metadata, ReadOnlySpan<byte> body, bool compressible)
    {
        var flags = EntryFlags.None;
        var storedBody = body;
        byte[]? rented = null;
        byte[]? compressed = null;
        try
        {
            if (compressible)
            {
                (compressed, rented, var length, var compression) = Compress(body);
                if (compressed is not null)
                {
                    storedBody = compressed.AsSpan(0, length);
                    flags |= compression;
                }
            }

            var signer = _signingKeys.Length > 0 ? _signingKeys[0] : null;
            var encryptor = _encryptionKeys.Length > 0 ? _encryptionKeys[0] : null;
            flags |= (signer is null ? EntryFlags.None : EntryFlags.Signed) | (encryptor is null ? EntryFlags.None : EntryFlags.Encrypted);
            var headerSize = HeaderSize(flags);
            var payloadLength = metadata.Length + storedBody.Length;
            var result = new byte[headerSize + payloadLength + TrailerSize(flags)];
            var span = result.AsSpan();
            Magic.CopyTo(span);
            span[3] = CurrentVersion;
            span[4] = (byte)flags;
            span[5] = (byte)kind;
            BinaryPrimitives.WriteInt64LittleEndian(span.Slice(6, 8), ToUnixMilliseconds(expiresAt));
            BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(14, 4), (uint)body.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(18, 4), (uint)storedBody.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(22, 4), (uint)metadata.Length);
            var offset = FixedHeaderSize;
            if (signer is not null)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(offset, KeyIdSize), signer.Id);
                offset += KeyIdSize;
            }

            if (encryptor is not null)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(offset, KeyIdSize), encryptor.Id);
                RandomNumberGenerator.Fill(span.Slice(offset + KeyIdSize, NonceSize));
            }

            var payload = span.Slice(headerSize, payloadLength);
            metadata.CopyTo(payload);
            storedBody.CopyTo(payload[metadata.Length..]);
            if (signer is null && encryptor is null)
            {
                return result;
            }

            var context = KeyContext(key);
            if (encryptor is not null)
            {
                using var aes = new AesGcm(encryptor.Key, TagSize);
                aes.Encrypt(
                    span.Slice(headerSize - NonceSize, NonceSize),
                    payload,
                    payload,
                    span.Slice(headerSize + payloadLength, TagSize),
                    AssociatedData(span[..headerSize], context));
            }

            if (signer is not null)
            {
                Mac(signer.Key, span[..^MacSize], context, span[^MacSize..]);
            }

            return result;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private OpenedEntry Open(ReadOnlyMemory<byte> memory, string key, EntryKind expected, bool needBody)
    {
        var data = memory.Span;
        var header = ReadClearHeader(data);
        if (header.Kind != expected)
        {
            throw new CacheFormatException($"Not a {expected} entry.");
        }

        if (header.Version == Version1)
        {
            return OpenVersion1(memory);
        }

        var flags = header.Flags;
        var signed = (flags & EntryFlags.Signed) != 0;
        var encrypted = (flags & EntryFlags.Encrypted) != 0;
        var compression = flags & CompressionFlags;
        var streamed = (flags & EntryFlags.Streamed) != 0;
        var headerSize = HeaderSize(flags);
        var trailerSize = TrailerSize(flags);
        if (streamed && (compression != 0 || encrypted || expected != EntryKind.Response))
        {
            throw new CacheFormatException(RejectReason.Flags, "A streamed entry is never compressed or encrypted, and is a response.");
        }

        if (data.Length < headerSize + trailerSize)
        {
            throw new CacheFormatException(RejectReason.Truncated, "Truncated entry.");
        }

        var bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(14, 4));
        var storedLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(18, 4));
        if (streamed)
        {
            if (bodyLength != UnknownLength || storedLength != UnknownLength)
            {
                throw new CacheFormatException("A streamed entry's header gives a body length.");
            }

            var trailerLength = BinaryPrimitives.ReadInt64LittleEndian(data.Slice(data.Length - trailerSize, LengthTrailerSize));
            if (trailerLength is < 0 or > int.MaxValue)
            {
                throw new CacheFormatException("Body length out of range.");
            }

            bodyLength = storedLength = (uint)trailerLength;
        }

        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(22, 4));
        var payloadLength = data.Length - headerSize - trailerSize;
        if ((ulong)metadataLength + storedLength != (ulong)payloadLength)
        {
            throw new CacheFormatException(RejectReason.Truncated, "The entry's length does not match its header.");
        }

        if (compression == 0 && storedLength != bodyLength)
        {
            throw new CacheFormatException("The stored body length of an uncompressed body differs from its length.");
        }

        if (compression != 0 && bodyLength > (uint)_maxCompressedBody)
        {
            throw new CacheFormatException(RejectReason.Compression, "A compressed body larger than the largest body stored.");
        }

        if (expected == EntryKind.VaryIndex && bodyLength != 0)
        {
            throw new CacheFormatException("A Vary index with a body.");
        }

        // Each configured protection is required: otherwise whoever can write storage could skip it.
        if (_signingKeys.Length > 0 && !signed)
        {
            throw new CacheFormatException(RejectReason.Unsigned, "The entry is not signed and signing is on.");
        }

        if (_encryptionKeys.Length > 0 && !encrypted)
        {
            throw new CacheFormatException(RejectReason.Unencrypted, "The entry is not encrypted and encryption is on.");
        }

        if ((signed && _signingKeys.Length == 0) || (encrypted && _encryptionKeys.Length == 0))
        {
            throw new CacheFormatException(RejectReason.UnknownKey, "The entry is signed or encrypted and no key for it is configured.");
        }

        var payload = memory.Slice(headerSize, payloadLength);
        if (signed || encrypted)
        {
            var context = KeyContext(key);
            if (signed)
            {
                Verify(data, context);
            }

            if (encrypted)
            {
                payload = Decrypt(data, headerSize, payloadLength, signed, context);
            }
        }

        var metadata = payload[..(int)metadataLength];
        var body = payload[(int)metadataLength..];
        if (compression != 0 && needBody)
        {
            body = compression == EntryFlags.Brotli ? DecompressBrotli(body.Span, (int)bodyLength) : DecompressGZip(body, (int)bodyLength);
        }

        return new OpenedEntry(metadata, body, (int)bodyLength, ToUnixMilliseconds(header.ExpiresAt), streamed);
    }

    private OpenedEntry OpenVersion1(ReadOnlyMemory<byte> memory)
    {
        if (_signingKeys.Length > 0)
        {
            throw new CacheFormatException(RejectReason.Unsigned, "A version 1 entry is not signed and signing is on.");
        }

        if (_encryptionKeys.Length > 0)
        {
            throw new CacheFormatException(RejectReason.Unencrypted, "A version 1 entry is not encrypted and encryption is on.");
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(memory.Span.Slice(6, 4));
        if (length > (uint)(memory.Length - Version1HeaderSize))
        {
            throw new CacheFormatException(RejectReason.Truncated, "Truncated entry.");
        }

        var metadata = memory.Slice(Version1HeaderSize, (int)length);
        var body = memory[(Version1HeaderSize + (int)length)..];
        return new OpenedEntry(metadata, body, body.Length, null);
    }

    private static void Mac(byte[] key, ReadOnlySpan<byte> data, byte[] context, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(data);
        hmac.AppendData(context);
        hmac.GetHashAndReset(destination);
    }

    private void Verify(ReadOnlySpan<byte> data, byte[] context)
    {
        var id = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(FixedHeaderSize, KeyIdSize));
        Span<byte> computed = stackalloc byte[MacSize];
        var known = false;
        foreach (var key in _signingKeys)
        {
            if (key.Id != id)
            {
                continue;
            }

            known = true;
            Mac(key.Key, data[..^MacSize], context, computed);
            if (CryptographicOperations.FixedTimeEquals(computed, data[^MacSize..]))
            {
                return;
            }
        }

        throw known
            ? new CacheFormatException(RejectReason.Signature, "The signature does not match: the entry was changed or moved.")
            : new CacheFormatException(RejectReason.UnknownKey, "The entry was signed with a key that is not configured.");
    }

    private byte[] Decrypt(ReadOnlySpan<byte> data, int headerSize, int payloadLength, bool signed, byte[] context)
    {
        var offset = FixedHeaderSize + (signed ? KeyIdSize : 0);
        var id = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(offset, KeyIdSize));
        var nonce = data.Slice(offset + KeyIdSize, NonceSize);
        var ciphertext = data.Slice(headerSize, payloadLength);
        var tag = data.Slice(headerSize + payloadLength, TagSize);
        var associatedData = AssociatedData(data[..headerSize], context);
        var plaintext = new byte[payloadLength];
        var known = false;
        foreach (var key in _encryptionKeys)
        {
            if (key.Id != id)
            {
                continue;
            }

            known = true;
            try
            {
                using var aes = new AesGcm(key.Key, TagSize);
                aes.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
                return plaintext;
            }
            catch (CryptographicException)
            {
                // The tag does not match with this key; another key may share its id.
            }
        }

        throw known
            ? new CacheFormatException(RejectReason.Decryption, "Decryption failed: the entry was changed or moved, or the key is wrong.")
            : new CacheFormatException(RejectReason.UnknownKey, "The entry was encrypted with a key that is not configured.");
    }

    private (byte[]? Compressed, byte[]? Rented, int Length, EntryFlags Flag) Compress(ReadOnlySpan<byte> body)
    {
        if (_compression == CacheCompression.Brotli)
        {
            var rented = ArrayPool<byte>.Shared.Rent(BrotliEncoder.GetMaxCompressedLength(body.Length));
            return BrotliEncoder.TryCompress(body, rented, out var written, _brotliQuality, window: 22) && written < body.Length
                ? (rented, rented, written, EntryFlags.Brotli)
                : (null, rented, 0, EntryFlags.None);
        }

        using var buffer = new MemoryStream(body.Length / 2);
        using (var gzip = new GZipStream(buffer, _compressionLevel, leaveOpen: true))
        {
            gzip.Write(body);
        }

        return buffer.Length < body.Length
            ? (buffer.GetBuffer(), null, (int)buffer.Length, EntryFlags.GZip)
            : (null, null, 0, EntryFlags.None);
    }

    private static byte[] DecompressBrotli(ReadOnlySpan<byte> source, int length)
    {
        var output = new byte[length];
        using var decoder = new BrotliDecoder();
        var status = decoder.Decompress(source, output, out var consumed, out var written);
        if (status != OperationStatus.Done || consumed != source.Length || written != length)
        {
            throw new CacheFormatException(RejectReason.Compression, "The Brotli body does not decompress to its declared size.");
        }

        return output;
    }

    private static byte[] DecompressGZip(ReadOnlyMemory<byte> source, int length)
    {
        var segment = MemoryMarshal.TryGetArray(source, out var array) ? array : new ArraySegment<byte>(source.ToArray());
        var output = new byte[length];
        try
        {
            using var gzip = new GZipStream(new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false), CompressionMode.Decompress);
            var total = 0;
            while (total < length)
            {
                var read = gzip.Read(output, total, length - total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            Span<byte> extra = stackalloc byte[1];
            if (total != length || gzip.Read(extra) != 0)
            {
                throw new CacheFormatException(RejectReason.Compression, "The GZip body does not decompress to its declared size.");
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw new CacheFormatException(RejectReason.Compression, "The GZip body is corrupt.");
        }

        return output;
    }

    /// <summary>The clear header of an entry.</summary>
    /// <param name="Version">The format version.</param>
    /// <param name="Kind">The kind.</param>
    /// <param name="Flags">The flags (version 2).</param>
    /// <param name="ExpiresAt">The expiry time (version 2; null: never, or unknown for version 1).</param>
    /// <param name="HasExpiry">Whether the header carries the expiry time (version 2).</param>
    internal readonly record struct ClearHeader(byte Version, EntryKind Kind, EntryFlags Flags, DateTimeOffset? ExpiresAt, bool HasExpiry);

    /// <summary>An authenticated, decrypted entry: metadata bytes, body bytes (empty when not needed and compressed).</summary>
    internal readonly record struct OpenedEntry(ReadOnlyMemory<byte> Metadata, ReadOnlyMemory<byte> Body, int BodyLength, long? ExpiresAt, bool Streamed = false);

    /// <summary>A signing or encryption key with its id, the first 4 bytes of its SHA-256.</summary>
    private sealed class ProtectionKey(byte[] key)
    {
        public byte[] Key { get; } = key;

        public uint Id { get; } = BinaryPrimitives.ReadUInt32LittleEndian(SHA256.HashData(key));
    }
}
