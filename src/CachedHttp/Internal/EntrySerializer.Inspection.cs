using System.Buffers.Binary;
using System.Net;

namespace CachedHttp.Internal;

/// <content>
/// Inspection: the metadata of an entry read from the first bytes of the stored value, for listings. A value given
/// whole is opened as for serving (signature checked, decrypted). A value given in part is read only when its metadata
/// is in clear and within the part: then nothing is authenticated — fit for listing and deleting, never for serving.
/// </content>
internal sealed partial class EntrySerializer
{
    /// <summary>Gets a value indicating whether entries are encrypted, so that their metadata can be read only from the whole value.</summary>
    public bool Encrypts => _encryptionKeys.Length > 0;

    /// <summary>Reads what a listing needs from the first bytes of a stored value.</summary>
    /// <param name="head">The first bytes of the value (all of it when <c>head.Length</c> equals <paramref name="size"/>).</param>
    /// <param name="size">The size of the whole stored value.</param>
    /// <param name="key">The storage key.</param>
    /// <returns>The metadata; or <see cref="InspectionStatus.NeedsWholeValue"/> when it is encrypted or beyond the head; or <see cref="InspectionStatus.Unreadable"/>.</returns>
    public Inspection Inspect(ReadOnlyMemory<byte> head, long size, string key)
    {
        try
        {
            var header = ReadClearHeader(head.Span);
            if (_signingKeys.Length > 0 && (header.Flags & EntryFlags.Signed) == 0)
            {
                throw new CacheFormatException(RejectReason.Unsigned, "The entry is not signed and signing is on.");
            }

            if (_encryptionKeys.Length > 0 && (header.Flags & EntryFlags.Encrypted) == 0)
            {
                throw new CacheFormatException(RejectReason.Unencrypted, "The entry is not encrypted and encryption is on.");
            }

            if (head.Length >= size)
            {
                return InspectWhole(head, key, header.Kind);
            }

            if ((header.Flags & EntryFlags.Encrypted) != 0)
            {
                return Inspection.NeedsWholeValue;
            }

            return header.Version == Version1 ? InspectVersion1Head(head, size) : InspectHead(head, size, header);
        }
        catch (CacheFormatException ex)
        {
            return Inspection.Unreadable(ex);
        }
    }

    private Inspection InspectWhole(ReadOnlyMemory<byte> value, string key, EntryKind kind)
    {
        if (kind == EntryKind.VaryIndex)
        {
            return Inspection.OfIndex(DeserializeVaryIndex(value, key));
        }

        var opened = Open(value, key, EntryKind.Response, needBody: false);
        return Inspection.OfResponse(ParseMetadata(opened), opened.BodyLength, authenticated: true);
    }

    /// <summary>Version 2 in clear (perhaps signed): the lengths in the header must add up to the size; the signature is not checked.</summary>
    private Inspection InspectHead(ReadOnlyMemory<byte> head, long size, in ClearHeader header)
    {
        var data = head.Span;
        var flags = header.Flags;
        var headerSize = HeaderSize(flags);
        if (data.Length < headerSize)
        {
            return Inspection.NeedsWholeValue;
        }

        if ((flags & EntryFlags.Signed) != 0)
        {
            // As Open would: an entry signed with a key that is not configured is never readable here.
            var id = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(FixedHeaderSize, KeyIdSize));
            if (!_signingKeys.Any(k => k.Id == id))
            {
                throw new CacheFormatException(RejectReason.UnknownKey, "The entry was signed with a key that is not configured.");
            }
        }

        if ((flags & EntryFlags.Streamed) != 0)
        {
            // Written while its body streamed: the body length is in the trailer; the header's lengths are unknown.
            var streamedMetadataLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(22, 4));
            var streamedBodyLength = size - headerSize - streamedMetadataLength - TrailerSize(flags);
            if (streamedBodyLength is < 0 or > int.MaxValue || header.Kind != EntryKind.Response)
            {
                throw new CacheFormatException(RejectReason.Truncated, "The entry's length does not match its header.");
            }

            if (headerSize + (long)streamedMetadataLength > data.Length)
            {
                return Inspection.NeedsWholeValue;
            }

            var streamedEntry = new OpenedEntry(head.Slice(headerSize, (int)streamedMetadataLength), default, (int)streamedBodyLength, ToUnixMilliseconds(header.ExpiresAt), Streamed: true);
            return Inspection.OfResponse(ParseMetadata(streamedEntry), (int)streamedBodyLength, authenticated: false);
        }

        var bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(14, 4));
        var storedLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(18, 4));
        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(22, 4));
        if ((ulong)headerSize + metadataLength + storedLength + (ulong)TrailerSize(flags) != (ulong)size)
        {
            throw new CacheFormatException(RejectReason.Truncated, "The entry's length does not match its header.");
        }

        if ((flags & CompressionFlags) == 0 && storedLength != bodyLength)
        {
            throw new CacheFormatException("The stored body length of an uncompressed body differs from its length.");
        }

        if (bodyLength > int.MaxValue || (header.Kind == EntryKind.VaryIndex && bodyLength != 0))
        {
            throw new CacheFormatException("Invalid body length.");
        }

        // A Vary index is small: it comes whole, and is read as when serving.
        if (headerSize + (long)metadataLength > data.Length || header.Kind == EntryKind.VaryIndex)
        {
            return Inspection.NeedsWholeValue;
        }

        var opened = new OpenedEntry(head.Slice(headerSize, (int)metadataLength), default, (int)bodyLength, ToUnixMilliseconds(header.ExpiresAt));
        return Inspection.OfResponse(ParseMetadata(opened), (int)bodyLength, authenticated: false);
    }

    private Inspection InspectVersion1Head(ReadOnlyMemory<byte> head, long size)
    {
        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(head.Span.Slice(6, 4));
        if (metadataLength > size - Version1HeaderSize)
        {
            throw new CacheFormatException(RejectReason.Truncated, "Truncated entry.");
        }

        if (Version1HeaderSize + (long)metadataLength > head.Length || size - Version1HeaderSize - metadataLength > int.MaxValue || ReadKind(head.Span) == EntryKind.VaryIndex)
        {
            return Inspection.NeedsWholeValue;
        }

        var bodyLength = (int)(size - Version1HeaderSize - metadataLength);
        var opened = new OpenedEntry(head.Slice(Version1HeaderSize, (int)metadataLength), default, bodyLength, null);
        return Inspection.OfResponse(ParseMetadata(opened), bodyLength, authenticated: false);
    }

    /// <summary>Builds the public view of inspected response metadata.</summary>
    /// <exception cref="CacheFormatException">The stored URL is not an absolute HTTP URL.</exception>
    public static CacheEntry ToEntry(StoredResponse metadata, long bodyLength, string key, long storedSize)
    {
        Uri url;
        try
        {
            url = HttpUrl(metadata.Url!);
        }
        catch (UriFormatException ex)
        {
            throw new CacheFormatException("Bad URL in stored entry.", ex);
        }

        return new CacheEntry
        {
            Key = key,
            Method = metadata.Method!,
            Url = url,
            StatusCode = (HttpStatusCode)metadata.Status,
            BodySize = bodyLength,
            StoredSize = storedSize,
            CreatedAt = metadata.CreatedAt,
            ExpiresAt = metadata.ExpiresAt,
            VaryValues = FromStored(metadata.Vary),
        };
    }
}

/// <summary>What <see cref="EntrySerializer.Inspect"/> found.</summary>
internal enum InspectionStatus
{
    /// <summary>A response; its metadata is in <see cref="Inspection.Metadata"/>.</summary>
    Response,

    /// <summary>A Vary index; it is in <see cref="Inspection.Index"/>.</summary>
    VaryIndex,

    /// <summary>The metadata is encrypted or beyond the bytes given: inspect the whole value.</summary>
    NeedsWholeValue,

    /// <summary>Not readable with these options (corrupt, unknown version, missing or unknown protection).</summary>
    Unreadable,
}

/// <summary>The result of <see cref="EntrySerializer.Inspect"/>.</summary>
/// <param name="Status">What was found.</param>
/// <param name="Metadata">The metadata of a response.</param>
/// <param name="BodyLength">The body length of a response (uncompressed).</param>
/// <param name="Authenticated">Whether the metadata was authenticated (read from the whole value).</param>
/// <param name="Index">The Vary index.</param>
/// <param name="Error">Why the value is unreadable.</param>
internal readonly record struct Inspection(InspectionStatus Status, StoredResponse? Metadata, int BodyLength, bool Authenticated, VaryIndex? Index, CacheFormatException? Error)
{
    public static Inspection NeedsWholeValue => new(InspectionStatus.NeedsWholeValue, null, 0, false, null, null);

    public static Inspection Unreadable(CacheFormatException error) => new(InspectionStatus.Unreadable, null, 0, false, null, error);

    public static Inspection OfIndex(VaryIndex index) => new(InspectionStatus.VaryIndex, null, 0, true, index, null);

    public static Inspection OfResponse(StoredResponse metadata, int bodyLength, bool authenticated) => new(InspectionStatus.Response, metadata, bodyLength, authenticated, null, null);
}
