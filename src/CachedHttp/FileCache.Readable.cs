using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using CachedHttp.Internal;

namespace CachedHttp;

/// <summary>The readable format: <c>{hash}.json</c> (header and pretty metadata) + <c>{hash}.body</c> (raw body bytes).</summary>
public partial class FileCache
{
    // The clear header of a CachedHttp envelope (see EntrySerializer): "CHC", version, flags, kind, then for version 1 a
    // uint32 metadata length (10 bytes), for version 2 expiry, body lengths and a uint32 metadata length at 22 (26 bytes).
    // Only envelopes without compression, signing or encryption (flags 0) are split: the others are opaque.
    private const int EnvelopeHeaderSize = 26;
    private const string FormatName = "cachedhttp-file-entry";
    private const int FormatVersion = 1;

    // A .json file is a header plus metadata; anything this large is not one of ours.
    private const int MaxJsonFileSize = 64 * 1024 * 1024;

    private static readonly JsonWriterOptions PrettyWriterOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static ReadOnlySpan<byte> EnvelopeMagic => "CHC"u8;

    private async ValueTask WriteReadableAsync(string key, string hash, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter, CancellationToken cancellationToken)
    {
        var envelope = TrySplitEnvelope(value);
        var body = envelope is null ? value : value[envelope.PrefixLength..];
        var bodyPath = EntryPath(hash, BodyExtension);
        var bodyTemp = await WriteTempFileAsync(bodyPath, body.Length, (stream, token) => stream.WriteAsync(body, token), cancellationToken).ConfigureAwait(false);
        var header = new ReadableHeader(key, deleteAfter, value.Length, body.Length, Convert.ToHexStringLower(SHA256.HashData(body.Span)), envelope);
        await WriteJsonAndCommitAsync(hash, header, bodyTemp, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask WriteReadableStreamAsync(string key, string hash, Stream content, DateTimeOffset? deleteAfter, CancellationToken cancellationToken)
    {
        // Read just enough to tell whether the value is an envelope; what is not metadata goes to the body.
        var prefix = await ReadEnvelopePrefixAsync(content, cancellationToken).ConfigureAwait(false);
        var envelope = TrySplitEnvelope(prefix);
        var bodyPrefix = envelope is null ? prefix : ReadOnlyMemory<byte>.Empty;
        var bodyPath = EntryPath(hash, BodyExtension);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bodyLength = 0;
        var bodyTemp = await WriteTempFileAsync(
            bodyPath,
            content.CanSeek ? bodyPrefix.Length + Math.Max(0, content.Length - content.Position) : 0,
            async (stream, token) =>
            {
                sha.AppendData(bodyPrefix.Span);
                await stream.WriteAsync(bodyPrefix, token).ConfigureAwait(false);
                bodyLength = bodyPrefix.Length + await CopyAsync(content, stream, sha, token).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        var prefixLength = envelope?.PrefixLength ?? 0;
        var header = new ReadableHeader(key, deleteAfter, prefixLength + bodyLength, bodyLength, Convert.ToHexStringLower(sha.GetHashAndReset()), envelope);
        await WriteJsonAndCommitAsync(hash, header, bodyTemp, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads an envelope's header and metadata from the start of a stream, or fewer bytes when it cannot be one.</summary>
    private static async ValueTask<byte[]> ReadEnvelopePrefixAsync(Stream content, CancellationToken cancellationToken)
    {
        var header = new byte[EnvelopeHeaderSize];
        var got = await content.ReadAtLeastAsync(header.AsMemory(0, 4), 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (got < 4 || !header.AsSpan(0, 3).SequenceEqual(EnvelopeMagic) || HeaderLayout(header[3]) is not var (headerSize, _))
        {
            return header[..got];
        }

        got += await content.ReadAtLeastAsync(header.AsMemory(4, headerSize - 4), headerSize - 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (got < headerSize || header[4] != 0)
        {
            return header[..got];
        }

        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(headerSize - 4));
        if (metadataLength > MaxJsonFileSize)
        {
            return header[..got];
        }

        var prefix = new byte[headerSize + (int)metadataLength];
        header.AsSpan(0, headerSize).CopyTo(prefix);
        got = await content.ReadAtLeastAsync(prefix.AsMemory(headerSize), (int)metadataLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        return prefix[..(headerSize + got)];
    }

    /// <summary>The clear header size and metadata-length offset of an envelope version; null for an unknown version.</summary>
    private static (int HeaderSize, int MetadataLengthOffset)? HeaderLayout(byte version) => version switch
    {
        1 => (10, 6),
        2 => (26, 22),
        _ => null,
    };

    /// <summary>
    /// Splits a CachedHttp envelope (version 1) into its header fields and metadata, when the metadata printed for
    /// people rebuilds to the very same bytes; otherwise null, and the value is stored whole as the body.
    /// </summary>
    private static EnvelopeParts? TrySplitEnvelope(ReadOnlyMemory<byte> value)
    {
        var span = value.Span;
        if (span.Length < 6 || !span[..3].SequenceEqual(EnvelopeMagic) || HeaderLayout(span[3]) is not var (headerSize, lengthOffset)
            || span.Length < headerSize || span[4] != 0)
        {
            return null;
        }

        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(span[lengthOffset..]);
        if (metadataLength > (uint)(span.Length - headerSize))
        {
            return null;
        }

        var metadata = value.Slice(headerSize, (int)metadataLength);
        try
        {
            // Print it as the .json file will, read that back as a reader will, and compare.
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, PrettyWriterOptions))
            using (var original = JsonDocument.Parse(metadata))
            {
                original.RootElement.WriteTo(writer);
            }

            using var printed = JsonDocument.Parse(buffer.WrittenMemory);
            var rebuilt = RebuildMetadata(span[5], printed.RootElement);
            if (rebuilt is null || !rebuilt.AsSpan().SequenceEqual(metadata.Span))
            {
                return null;
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return new EnvelopeParts(span[3], span[4], span[5], span[..headerSize].ToArray(), metadata.ToArray());
    }

    /// <summary>
    /// Rebuilds an envelope's exact metadata bytes from its printed JSON, through the serializer that wrote them: a
    /// generic JSON writer cannot, because System.Text.Json escapes strings and dates differently (<c>+</c> in a
    /// date is written raw, in a string as <c>\u002B</c>). Null for a kind this version does not know.
    /// </summary>
    private static byte[]? RebuildMetadata(byte kind, JsonElement metadata)
    {
        try
        {
            return (EntryKind)kind switch
            {
                EntryKind.Response when metadata.Deserialize(StoredJsonContext.Default.StoredResponse) is { } response
                    => JsonSerializer.SerializeToUtf8Bytes(response, StoredJsonContext.Default.StoredResponse),
                EntryKind.VaryIndex when metadata.Deserialize(StoredJsonContext.Default.VaryIndex) is { } index
                    => JsonSerializer.SerializeToUtf8Bytes(index, StoredJsonContext.Default.VaryIndex),
                _ => null,
            };
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Writes the .json (the commit marker) and renames both files into place under the key's stripe lock.</summary>
    private async ValueTask WriteJsonAndCommitAsync(string hash, ReadableHeader header, string bodyTemp, CancellationToken cancellationToken)
    {
        var jsonPath = EntryPath(hash, JsonExtension);
        string? jsonTemp = null;
        try
        {
            var json = SerializeHeader(header, Path.GetFileName(EntryPath(hash, BodyExtension)));
            jsonTemp = await WriteTempFileAsync(jsonPath, json.Length, (stream, token) => stream.WriteAsync(json, token), cancellationToken).ConfigureAwait(false);
            var stripe = Stripe(hash);
            await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var previous = ReadableEntryLength(hash);

                // Uncommit the old entry first: a reader then sees a miss, never the old .json with the new .body.
                DeleteQuietly(jsonPath);
                await CommitAsync(bodyTemp, EntryPath(hash, BodyExtension), CancellationToken.None).ConfigureAwait(false);
                await CommitAsync(jsonTemp, jsonPath, CancellationToken.None).ConfigureAwait(false);
                Account(previous, json.Length + header.BodyLength);
            }
            finally
            {
                stripe.Release();
            }

            CheckBounds();
        }
        catch
        {
            DeleteQuietly(bodyTemp);
            if (jsonTemp is not null)
            {
                DeleteQuietly(jsonTemp);
            }

            throw;
        }
    }

    private static byte[] SerializeHeader(ReadableHeader header, string bodyFileName)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, PrettyWriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("format", FormatName);
            writer.WriteNumber("format_version", FormatVersion);
            writer.WriteString("key", header.Key);
            if (header.DeleteAfter is { } deleteAfter)
            {
                writer.WriteString("delete_after", deleteAfter.ToUniversalTime());
            }
            else
            {
                writer.WriteNull("delete_after");
            }

            writer.WriteNumber("value_length", header.ValueLength);
            writer.WriteBoolean("value_is_envelope", header.Envelope is not null);
            writer.WriteString("body_file", bodyFileName);
            writer.WriteNumber("body_length", header.BodyLength);
            writer.WriteString("body_sha256", header.BodySha256);
            if (header.Envelope is { } envelope)
            {
                writer.WriteStartObject("envelope");
                writer.WriteNumber("version", envelope.Version);
                writer.WriteNumber("flags", envelope.Flags);
                writer.WriteNumber("kind", envelope.Kind);
                writer.WriteString("header", Convert.ToHexStringLower(envelope.Header));
                writer.WriteEndObject();
                using var metadata = JsonDocument.Parse(envelope.Metadata);
                writer.WritePropertyName("metadata");
                metadata.RootElement.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a .json file; null when it is not a well-formed readable header.</summary>
    private static ReadableHeader? ParseHeader(byte[] json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != FormatName
                || !root.TryGetProperty("format_version", out var formatVersion) || !formatVersion.TryGetInt32(out var version) || version != FormatVersion
                || !root.TryGetProperty("key", out var key) || key.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("delete_after", out var deleteAfter) || deleteAfter.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)
                || !root.TryGetProperty("value_length", out var valueLength) || !valueLength.TryGetInt64(out var valueLengthValue) || valueLengthValue < 0
                || !root.TryGetProperty("value_is_envelope", out var isEnvelope) || isEnvelope.ValueKind is not (JsonValueKind.True or JsonValueKind.False)
                || !root.TryGetProperty("body_length", out var bodyLength) || !bodyLength.TryGetInt64(out var bodyLengthValue) || bodyLengthValue < 0
                || !root.TryGetProperty("body_sha256", out var sha) || sha.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            DateTimeOffset? deleteAfterValue = null;
            if (deleteAfter.ValueKind == JsonValueKind.String)
            {
                if (!deleteAfter.TryGetDateTimeOffset(out var at))
                {
                    return null;
                }

                deleteAfterValue = at;
            }

            EnvelopeParts? envelope = null;
            if (isEnvelope.GetBoolean())
            {
                if (!root.TryGetProperty("envelope", out var parts) || parts.ValueKind != JsonValueKind.Object
                    || !parts.TryGetProperty("version", out var envelopeVersion) || !envelopeVersion.TryGetByte(out var versionByte)
                    || !parts.TryGetProperty("flags", out var flags) || !flags.TryGetByte(out var flagsByte)
                    || !parts.TryGetProperty("kind", out var kind) || !kind.TryGetByte(out var kindByte)
                    || !parts.TryGetProperty("header", out var headerHex) || headerHex.ValueKind != JsonValueKind.String
                    || !root.TryGetProperty("metadata", out var metadata))
                {
                    return null;
                }

                if (RebuildMetadata(kindByte, metadata) is not { } metadataBytes)
                {
                    return null;
                }

                byte[] headerBytes;
                try
                {
                    headerBytes = Convert.FromHexString(headerHex.GetString()!);
                }
                catch (FormatException)
                {
                    return null;
                }

                if (HeaderLayout(versionByte) is not var (headerSize, lengthOffset) || headerBytes.Length != headerSize
                    || headerBytes[3] != versionByte || headerBytes[4] != flagsByte || headerBytes[5] != kindByte
                    || BinaryPrimitives.ReadUInt32LittleEndian(headerBytes.AsSpan(lengthOffset)) != (uint)metadataBytes.Length)
                {
                    return null;
                }

                envelope = new EnvelopeParts(versionByte, flagsByte, kindByte, headerBytes, metadataBytes);
            }

            var header = new ReadableHeader(key.GetString()!, deleteAfterValue, valueLengthValue, bodyLengthValue, sha.GetString()!, envelope);
            return header.PrefixLength + header.BodyLength == header.ValueLength ? header : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads and parses a .json file; null when it is missing or not a readable header.</summary>
    private static async ValueTask<ReadableHeader?> ReadReadableHeaderAsync(string jsonPath, CancellationToken cancellationToken)
    {
        var (state, header) = await TryReadReadableHeaderAsync(jsonPath, cancellationToken).ConfigureAwait(false);
        return state == FileState.Ok ? header : null;
    }

    private static async ValueTask<(FileState State, ReadableHeader? Header)> TryReadReadableHeaderAsync(string jsonPath, CancellationToken cancellationToken)
    {
        using var handle = TryOpenRead(jsonPath);
        if (handle is null)
        {
            return (FileState.Missing, null);
        }

        var length = RandomAccess.GetLength(handle);
        if (length > MaxJsonFileSize)
        {
            return (FileState.Corrupt, null);
        }

        var json = new byte[length];
        if (await ReadFullyAsync(handle, json, 0, cancellationToken).ConfigureAwait(false) < json.Length)
        {
            return (FileState.Corrupt, null);
        }

        var header = ParseHeader(json);
        return header is null ? (FileState.Corrupt, null) : (FileState.Ok, header);
    }

    /// <summary>Reads a whole readable entry; a corrupt pair is deleted, an expired one too when asked. With no expected key, any key is accepted.</summary>
    private async ValueTask<StoredEntry?> ReadReadableEntryAsync(string hash, string? expectedKey, bool removeExpired, CancellationToken cancellationToken)
    {
        var stripe = Stripe(hash);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (header, handle) = await OpenReadablePairAsync(hash, expectedKey, removeExpired, cancellationToken).ConfigureAwait(false);
            if (header is null || handle is null)
            {
                return null;
            }

            byte[] value;
            bool intact;
            using (handle)
            {
                if (header.ValueLength > Array.MaxLength)
                {
                    throw new InvalidOperationException($"The value of {header.ValueLength} bytes is too large for an array; use {nameof(OpenReadStreamAsync)}.");
                }

                value = GC.AllocateUninitializedArray<byte>((int)header.ValueLength);
                var body = value.AsMemory(WriteEnvelopePrefix(header.Envelope, value));
                intact = await ReadFullyAsync(handle, body, 0, cancellationToken).ConfigureAwait(false) == body.Length
                    && Convert.ToHexStringLower(SHA256.HashData(body.Span)).Equals(header.BodySha256, StringComparison.OrdinalIgnoreCase);
            }

            if (!intact)
            {
                // Truncated, or the .body of another write of this key (two processes writing it at once).
                DeleteReadablePair(hash);
                return null;
            }

            return new StoredEntry(header.Key, value);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>Opens the body of a readable entry for streaming.</summary>
    private async ValueTask<Stream?> OpenReadableStreamAsync(string hash, string expectedKey, CancellationToken cancellationToken)
    {
        var stripe = Stripe(hash);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (header, handle) = await OpenReadablePairAsync(hash, expectedKey, removeExpired: true, cancellationToken).ConfigureAwait(false);
            if (header is null || handle is null)
            {
                return null;
            }

            var prefix = new byte[header.PrefixLength];
            WriteEnvelopePrefix(header.Envelope, prefix);
            Touch(EntryPath(hash, JsonExtension));
            return new FileEntryStream(handle, prefix, 0, header.ValueLength);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>
    /// Reads the .json of an entry and opens its .body, checking the key, the delete-after time and the body's length.
    /// A corrupt pair is deleted, an expired one too when asked. Call under the key's stripe lock.
    /// </summary>
    private async ValueTask<(ReadableHeader? Header, Microsoft.Win32.SafeHandles.SafeFileHandle? Body)> OpenReadablePairAsync(string hash, string? expectedKey, bool removeExpired, CancellationToken cancellationToken)
    {
        var (state, header) = await TryReadReadableHeaderAsync(EntryPath(hash, JsonExtension), cancellationToken).ConfigureAwait(false);
        if (state == FileState.Corrupt)
        {
            DeleteReadablePair(hash);
        }

        if (header is null)
        {
            return (null, null);
        }

        if (expectedKey is not null && !string.Equals(header.Key, expectedKey, StringComparison.Ordinal))
        {
            return (null, null); // another key with the same SHA-256
        }

        if (IsPastDeleteAfter(header.DeleteAfter))
        {
            if (removeExpired)
            {
                DeleteReadablePair(hash);
            }

            return (null, null);
        }

        var handle = TryOpenRead(EntryPath(hash, BodyExtension));
        if (handle is null || RandomAccess.GetLength(handle) != header.BodyLength)
        {
            handle?.Dispose();
            DeleteReadablePair(hash);
            return (null, null);
        }

        return (header, handle);
    }

    /// <summary>Writes the envelope header and metadata of an entry at the start of <paramref name="destination"/>; returns their length.</summary>
    private static int WriteEnvelopePrefix(EnvelopeParts? envelope, Span<byte> destination)
    {
        if (envelope is null)
        {
            return 0;
        }

        envelope.Header.CopyTo(destination);
        envelope.Metadata.CopyTo(destination[envelope.Header.Length..]);
        return envelope.PrefixLength;
    }

    private async ValueTask<bool> ContainsReadableAsync(string hash, string key, CancellationToken cancellationToken)
    {
        var header = await ReadReadableHeaderAsync(EntryPath(hash, JsonExtension), cancellationToken).ConfigureAwait(false);
        if (header is null || !string.Equals(header.Key, key, StringComparison.Ordinal) || IsPastDeleteAfter(header.DeleteAfter))
        {
            return false;
        }

        return HasBody(hash, header);
    }

    /// <summary>Tells whether an entry's .body exists with the length its .json says (a stat, not a read).</summary>
    private bool HasBody(string hash, ReadableHeader header)
    {
        var body = new FileInfo(EntryPath(hash, BodyExtension));
        return body.Exists && body.Length == header.BodyLength;
    }

    private async ValueTask<bool> DeleteReadableAsync(string hash, CancellationToken cancellationToken)
    {
        var stripe = Stripe(hash);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var bodyPath = EntryPath(hash, BodyExtension);
            var bodyLength = FileLength(bodyPath) ?? 0;
            if (!DeleteEntryFile(EntryPath(hash, JsonExtension), out var jsonLength))
            {
                DeleteQuietly(bodyPath);
                return false;
            }

            DeleteQuietly(bodyPath);
            Forget(jsonLength + bodyLength);
            return true;
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>Deletes a readable entry that is past its delete-after time or corrupt (its body missing or of the wrong length).</summary>
    private async ValueTask<bool> DeleteReadableIfExpiredAsync(string hash, CancellationToken cancellationToken)
    {
        var stripe = Stripe(hash);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (state, header) = await TryReadReadableHeaderAsync(EntryPath(hash, JsonExtension), cancellationToken).ConfigureAwait(false);
            if (state == FileState.Missing)
            {
                return false;
            }

            if (header is null || IsPastDeleteAfter(header.DeleteAfter) || !HasBody(hash, header))
            {
                DeleteReadablePair(hash);
                return true;
            }

            return false;
        }
        finally
        {
            stripe.Release();
        }
    }

    private void DeleteReadablePair(string hash)
    {
        DeleteQuietly(EntryPath(hash, JsonExtension));
        DeleteQuietly(EntryPath(hash, BodyExtension));
    }

    /// <summary>The header fields and metadata of a CachedHttp envelope; the metadata in its exact stored bytes.</summary>
    private sealed record EnvelopeParts(byte Version, byte Flags, byte Kind, byte[] Header, byte[] Metadata)
    {
        public int PrefixLength => Header.Length + Metadata.Length;
    }

    /// <summary>What a .json file says about its entry.</summary>
    private sealed record ReadableHeader(string Key, DateTimeOffset? DeleteAfter, long ValueLength, long BodyLength, string BodySha256, EnvelopeParts? Envelope)
    {
        public int PrefixLength => Envelope?.PrefixLength ?? 0;
    }
}
