using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CachedHttp.Internal;

/// <summary>The kind of a stored value.</summary>
internal enum EntryKind : byte
{
    Response = 0,
    VaryIndex = 1,
}

/// <summary>
/// The stored format: a versioned envelope of a clear header, metadata (System.Text.Json, source-generated) and the
/// raw body bytes (never Base64), optionally compressed, encrypted (AES-GCM) and signed (HMAC-SHA256); see
/// <c>EntrySerializer.Envelope.cs</c> for the layout. One instance per backend, built from its options.
/// </summary>
/// <remarks>
/// <para>
/// Anything that is not a well-formed, authentic envelope of a known version is a <see cref="CacheFormatException"/>,
/// which the backend turns into a miss. Version 1 entries (unprotected, written before version 2) are still read.
/// </para>
/// <para>
/// Secrets never reach the stored bytes in clear: URLs are redacted (secret parameters, user info), credential request
/// headers are <c>REDACTED</c>, and credential Vary values are keyed hashes — whatever the caller put in the record.
/// </para>
/// </remarks>
internal sealed partial class EntrySerializer
{
    private readonly CacheOptions _options;
    private readonly RecentMetadata _recent = new();

    /// <summary>Initializes a serializer from validated options; it keeps the keys and settings they have now.</summary>
    public EntrySerializer(CacheOptions options)
    {
        _options = options;
        var serializer = options.Serializer;
        _compression = serializer.Compression;
        _compressionThreshold = serializer.CompressionThreshold;
        _brotliQuality = serializer.CompressionLevel switch
        {
            System.IO.Compression.CompressionLevel.NoCompression => 0,
            System.IO.Compression.CompressionLevel.Fastest => 1,
            System.IO.Compression.CompressionLevel.SmallestSize => 11,
            _ => 4,
        };
        _compressionLevel = serializer.CompressionLevel;
        _maxCompressedBody = (int)Math.Min(options.MaxBodySize, Array.MaxLength);
        _signingKeys = serializer.SigningKeys.Select(k => new ProtectionKey((byte[])k.Clone())).ToArray();
        _encryptionKeys = serializer.EncryptionKeys.Select(k => new ProtectionKey((byte[])k.Clone())).ToArray();
    }

    /// <summary>Gets a value indicating whether entries are authenticated (signed or encrypted), so that stored content can be trusted.</summary>
    public bool Authenticates => _signingKeys.Length > 0 || _encryptionKeys.Length > 0;

    public byte[] Serialize(CachedResponse response, string key)
    {
        var metadata = ToMetadata(response, response.Body.Length);
        var json = JsonBuffer.Rent();
        try
        {
            JsonSerializer.Serialize(json.Writer, metadata, StoredJsonContext.Default.StoredResponse);
            return Seal(EntryKind.Response, key, response.ExpiresAt, json.Written, response.Body.Span, IsCompressible(response));
        }
        finally
        {
            json.Return();
        }
    }

    /// <summary>The metadata of a response as stored (URLs redacted, credentials redacted or hashed).</summary>
    private StoredResponse ToMetadata(CachedResponse response, int bodySize)
        => new()
        {
            Method = response.Method,
            Url = Secrets.RedactUrl(response.Url.OriginalString, _options.SecretParameters),
            Status = (int)response.StatusCode,
            Reason = response.ReasonPhrase,
            Version = response.Version.ToString(),
            Headers = ToStored(response.Headers),
            ContentHeaders = ToStored(response.ContentHeaders),
            TrailingHeaders = response.TrailingHeaders.Count == 0 ? null : ToStored(response.TrailingHeaders),
            RequestHeaders = ToStored(Secrets.RedactHeaders(response.RequestHeaders, _options)),
            RequestTime = response.RequestTime,
            CreatedAt = response.CreatedAt,
            ExpiresAt = response.ExpiresAt,
            History = response.History.Count == 0 ? null : response.History.Select(h => new StoredRedirect { Method = h.Method, Url = Secrets.RedactUrl(h.Url.OriginalString, _options.SecretParameters), Status = h.StatusCode, SetCookie = [.. h.SetCookie] }).ToList(),
            Vary = response.VaryValues.Count == 0 ? null : ToStored(Secrets.HashCredentialValues(response.VaryValues, _options)),
            Aliases = response.AliasKeys.Count == 0 ? null : [.. response.AliasKeys],
            BodySize = bodySize,
        };

    /// <summary>The metadata of a response as it is stored, with this serializer's redaction of URLs, credential headers and Vary values.</summary>
    public StoredResponse ToStored(CachedResponse response) => ToMetadata(response, response.Body.Length);

    public byte[] SerializeVaryIndex(VaryIndex index, string key)
        => Seal(EntryKind.VaryIndex, key, index.DeleteAfter, JsonSerializer.SerializeToUtf8Bytes(index, StoredJsonContext.Default.VaryIndex), [], compressible: false);

    public VaryIndex DeserializeVaryIndex(ReadOnlyMemory<byte> data, string key)
    {
        var opened = Open(data, key, EntryKind.VaryIndex, needBody: false);
        var index = ParseVaryIndex(opened.Metadata.Span);
        if (opened.ExpiresAt is { } expires && expires != ToUnixMilliseconds(index.DeleteAfter))
        {
            throw new CacheFormatException("The header and the Vary index disagree on the expiry time.");
        }

        return index;
    }

    /// <summary>Parses and checks the JSON of a Vary index (as stored, and as exported).</summary>
    public static VaryIndex ParseVaryIndex(ReadOnlySpan<byte> json)
    {
        VaryIndex? index;
        try
        {
            index = JsonSerializer.Deserialize(json, StoredJsonContext.Default.VaryIndex);
        }
        catch (JsonException ex)
        {
            throw new CacheFormatException("Corrupt Vary index.", ex);
        }

        if (index is null || index.Names is null || index.Variants is null || index.Names.Any(n => n is null) || index.Variants.Any(v => string.IsNullOrEmpty(v))
            || index.NameSets?.Any(set => set is null || set.Any(n => n is null)) == true)
        {
            throw new CacheFormatException("Incomplete Vary index.");
        }

        return index;
    }

    /// <summary>Deserializes a response; when nothing was compressed or encrypted, its body is a slice of <paramref name="data"/> (no copy).</summary>
    /// <remarks>
    /// The entry is opened (and authenticated) every time; its metadata is parsed only when it differs from the last
    /// metadata read under the same key (see <see cref="RecentMetadata"/>), so that a storage returning a fresh copy of an
    /// unchanged entry on every read (SQLite, files, Redis) does not pay for the JSON and the URLs on every hit.
    /// </remarks>
    public CachedResponse Deserialize(ReadOnlyMemory<byte> data, string key)
    {
        var opened = Open(data, key, EntryKind.Response, needBody: true);
        if (_recent.TryGet(key, opened) is { } known)
        {
            return known with { Body = opened.Body };
        }

        var response = FromStored(ParseMetadata(opened), opened.Body);
        _recent.Remember(key, opened, response);
        return response;
    }

    /// <summary>Builds a response from checked metadata (see <see cref="ParseMetadata(ReadOnlySpan{byte}, int, long?, bool)"/>) and its body.</summary>
    public static CachedResponse FromStored(StoredResponse metadata, ReadOnlyMemory<byte> body)
    {
        try
        {
            return new CachedResponse
            {
                Method = metadata.Method!,
                Url = HttpUrl(metadata.Url!),
                StatusCode = (HttpStatusCode)metadata.Status,
                ReasonPhrase = metadata.Reason,
                Version = System.Version.TryParse(metadata.Version, out var version) ? version : HttpVersion.Version11,
                Headers = FromStored(metadata.Headers),
                ContentHeaders = FromStored(metadata.ContentHeaders),
                TrailingHeaders = FromStored(metadata.TrailingHeaders),
                RequestHeaders = FromStored(metadata.RequestHeaders),
                RequestTime = metadata.RequestTime,
                CreatedAt = metadata.CreatedAt,
                ExpiresAt = metadata.ExpiresAt,
                History = metadata.History?.Select(h => new CachedRedirect(h.Method ?? "GET", HttpUrl(h.Url!), h.Status, h.SetCookie ?? [])).ToArray() ?? [],
                VaryValues = FromStored(metadata.Vary),
                AliasKeys = metadata.Aliases?.ToArray() ?? [],
                Body = body,
            };
        }
        catch (UriFormatException ex)
        {
            throw new CacheFormatException("Bad URL in stored entry.", ex);
        }
    }

    /// <summary>Reads (and authenticates) the metadata of a response entry; the body is neither decompressed nor parsed.</summary>
    public StoredResponse ReadMetadata(ReadOnlyMemory<byte> data, string key)
        => ParseMetadata(Open(data, key, EntryKind.Response, needBody: false));

    private static StoredResponse ParseMetadata(in OpenedEntry opened)
        => ParseMetadata(opened.Metadata.Span, opened.BodyLength, opened.ExpiresAt, opened.Streamed);

    /// <summary>Parses and checks the metadata JSON of a response whose body has <paramref name="bodyLength"/> bytes (as stored, and as exported).</summary>
    /// <param name="json">The metadata JSON.</param>
    /// <param name="bodyLength">The length of the body that comes with it.</param>
    /// <param name="expiresAt">The expiry time of the clear header (Unix milliseconds), to check against the metadata; null when there is none.</param>
    /// <param name="streamed">Whether the entry was written while its body streamed (its metadata then holds no body size).</param>
    public static StoredResponse ParseMetadata(ReadOnlySpan<byte> json, int bodyLength, long? expiresAt, bool streamed = false)
    {
        StoredResponse? metadata;
        try
        {
            metadata = JsonSerializer.Deserialize(json, StoredJsonContext.Default.StoredResponse);
        }
        catch (JsonException ex)
        {
            throw new CacheFormatException("Corrupt metadata.", ex);
        }

        if (metadata is null)
        {
            throw new CacheFormatException("Empty metadata.");
        }

        // A streamed entry's metadata was written before its body: its length is in the trailer only.
        if (streamed ? metadata.BodySize != StreamedBodySize : metadata.BodySize != bodyLength)
        {
            throw new CacheFormatException($"The body has {bodyLength} bytes, the metadata says {metadata.BodySize}.");
        }

        if (expiresAt is { } expires && expires != ToUnixMilliseconds(metadata.ExpiresAt))
        {
            throw new CacheFormatException("The header and the metadata disagree on the expiry time.");
        }

        Check(metadata);
        return metadata;
    }

    /// <summary>Rejects metadata that would make a valid-looking response throw later (when served, keyed or restored).</summary>
    private static void Check(StoredResponse metadata)
    {
        if (string.IsNullOrEmpty(metadata.Method) || !metadata.Method.All(CacheOptions.IsTokenChar))
        {
            throw new CacheFormatException("Missing or invalid method.");
        }

        if (metadata.Url is null || metadata.Status is < 100 or > 999)
        {
            throw new CacheFormatException("Missing URL or invalid status.");
        }

        if (metadata.Reason is { } reason && (reason.Contains('\r', StringComparison.Ordinal) || reason.Contains('\n', StringComparison.Ordinal)))
        {
            throw new CacheFormatException("Invalid reason phrase.");
        }

        if (!ValidHeaders(metadata.Headers) || !ValidHeaders(metadata.ContentHeaders) || !ValidHeaders(metadata.TrailingHeaders)
            || !ValidHeaders(metadata.RequestHeaders) || !ValidHeaders(metadata.Vary)
            || metadata.Aliases?.Any(string.IsNullOrEmpty) == true
            || metadata.History?.Any(h => h is null || h.Url is null || h.SetCookie?.Any(c => c is null) == true || (h.Method is not null && (h.Method.Length == 0 || !h.Method.All(CacheOptions.IsTokenChar)))) == true)
        {
            throw new CacheFormatException("Incomplete metadata.");
        }
    }

    private static Uri HttpUrl(string url)
    {
        var uri = new Uri(url, UriKind.Absolute);
        return uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps
            ? uri
            : throw new CacheFormatException("A stored URL is not an HTTP URL.");
    }

    private static bool ValidHeaders(List<StoredHeader>? headers)
        => headers is null || headers.All(h => h is not null && !string.IsNullOrEmpty(h.Name) && (h.Values is null || h.Values.All(v => v is not null)));

    private static List<StoredHeader> ToStored(CachedHeaders headers)
        => headers.Select(h => new StoredHeader { Name = h.Key, Values = h.Value }).ToList();

    private static CachedHeaders FromStored(List<StoredHeader>? headers)
        => headers is null || headers.Count == 0
            ? CachedHeaders.Empty
            : CachedHeaders.FromOwned(headers.Select(h => new KeyValuePair<string, string[]>(h.Name!, h.Values ?? [])).ToArray());

    /// <summary>Only text-like content without a Content-Encoding is worth compressing; images, video, archives are compressed already.</summary>
    private bool IsCompressible(CachedResponse response)
    {
        if (_compression == CacheCompression.None || response.Body.Length <= _compressionThreshold || response.Body.Length > _maxCompressedBody)
        {
            return false;
        }

        if (response.ContentHeaders.GetValue("Content-Encoding") is { } encoding && !encoding.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return IsCompressibleMediaType(response.ContentHeaders.GetValue("Content-Type"));
    }

    internal static bool IsCompressibleMediaType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
        return mediaType.StartsWith("text/", StringComparison.OrdinalIgnoreCase)
            || mediaType.Contains("json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("xml", StringComparison.OrdinalIgnoreCase)
            || mediaType.Contains("javascript", StringComparison.OrdinalIgnoreCase)
            || mediaType.Contains("ecmascript", StringComparison.OrdinalIgnoreCase)
            || mediaType.Contains("yaml", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>
/// A reusable buffer for the metadata JSON of one serialization per thread, so that the JSON is not an array of its own
/// before it is copied into the entry. A buffer that grew past 64 KiB is dropped after use.
/// </summary>
internal sealed class JsonBuffer
{
    private const int KeptCapacity = 64 * 1024;

    [ThreadStatic]
    private static JsonBuffer? _cached;

    private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(4096);

    private JsonBuffer()
    {
        Writer = new Utf8JsonWriter(_buffer);
    }

    public Utf8JsonWriter Writer { get; }

    public ReadOnlySpan<byte> Written
    {
        get
        {
            Writer.Flush();
            return _buffer.WrittenSpan;
        }
    }

    public static JsonBuffer Rent()
    {
        var buffer = _cached ?? new JsonBuffer();
        _cached = null;
        return buffer;
    }

    public void Return()
    {
        Writer.Reset();
        _buffer.ResetWrittenCount();
        if (_buffer.Capacity <= KeptCapacity)
        {
            _cached = this;
        }
    }
}

/// <summary>
/// The responses last decoded by one serializer, by storage key, each with the exact metadata bytes it was parsed from:
/// an entry whose (authenticated) metadata bytes are the same decodes to the same record but for its body. At most
/// <see cref="Capacity"/> keys; it starts over when full. Thread-safe.
/// </summary>
internal sealed class RecentMetadata
{
    public const int Capacity = 256;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Decoded> _entries = new(StringComparer.Ordinal);
    private int _added;

    /// <summary>The record decoded from the same metadata, body length and header expiry under this key, or null.</summary>
    public CachedResponse? TryGet(string key, in EntrySerializer.OpenedEntry opened)
        => _entries.TryGetValue(key, out var known)
            && known.BodyLength == opened.BodyLength
            && known.ExpiresAt == opened.ExpiresAt
            && opened.Metadata.Span.SequenceEqual(known.Metadata)
            ? known.Response
            : null;

    public void Remember(string key, in EntrySerializer.OpenedEntry opened, CachedResponse response)
    {
        // Without the body: the record must not keep a large array alive.
        var decoded = new Decoded(opened.Metadata.ToArray(), opened.BodyLength, opened.ExpiresAt, response with { Body = ReadOnlyMemory<byte>.Empty });

        // Counted here: ConcurrentDictionary.Count takes every lock of the dictionary.
        if (!_entries.TryAdd(key, decoded))
        {
            _entries[key] = decoded;
        }
        else if (Interlocked.Increment(ref _added) > Capacity)
        {
            _entries.Clear();
            Volatile.Write(ref _added, 0);
        }
    }

    private sealed record Decoded(byte[] Metadata, int BodyLength, long? ExpiresAt, CachedResponse Response);
}

/// <summary>Why a stored value was rejected; the <c>reason</c> tag of the <c>cachedhttp.entries.rejected</c> metric.</summary>
internal enum RejectReason
{
    /// <summary>Not an entry, or inconsistent content.</summary>
    Malformed,

    /// <summary>Shorter than its header says.</summary>
    Truncated,

    /// <summary>An unknown (newer) format version.</summary>
    Version,

    /// <summary>Unknown flags (a newer writer's feature).</summary>
    Flags,

    /// <summary>Signing is on and the entry is not signed.</summary>
    Unsigned,

    /// <summary>Encryption is on and the entry is not encrypted.</summary>
    Unencrypted,

    /// <summary>The entry names a key that is not configured (or protection that this backend has no key for).</summary>
    UnknownKey,

    /// <summary>The signature does not match: tampered, or moved to another key.</summary>
    Signature,

    /// <summary>Decryption failed authentication: tampered, wrong key, or moved to another key.</summary>
    Decryption,

    /// <summary>The compressed body does not decompress to its declared size.</summary>
    Compression,
}

/// <summary>A stored value is not a readable, authentic CachedHttp entry.</summary>
internal sealed class CacheFormatException : Exception
{
    public CacheFormatException(string message)
        : this(RejectReason.Malformed, message)
    {
    }

    public CacheFormatException(string message, Exception inner)
        : base(message, inner)
    {
        Reason = RejectReason.Malformed;
    }

    public CacheFormatException(RejectReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    public RejectReason Reason { get; }

    /// <summary>Gets the metric tag of <see cref="Reason"/>.</summary>
    public string ReasonTag => Reason switch
    {
        RejectReason.Truncated => "truncated",
        RejectReason.Version => "version",
        RejectReason.Flags => "flags",
        RejectReason.Unsigned => "unsigned",
        RejectReason.Unencrypted => "unencrypted",
        RejectReason.UnknownKey => "unknown-key",
        RejectReason.Signature => "signature",
        RejectReason.Decryption => "decryption",
        RejectReason.Compression => "compression",
        _ => "malformed",
    };

    /// <summary>Gets a value indicating whether no configuration of this version could ever read the entry, so a sweep may delete it.</summary>
    public bool IsUnreadable => Reason is RejectReason.Malformed or RejectReason.Truncated or RejectReason.Unsigned or RejectReason.Unencrypted;
}

internal sealed class StoredResponse
{
    public string? Method { get; set; }

    public string? Url { get; set; }

    public int Status { get; set; }

    public string? Reason { get; set; }

    public string? Version { get; set; }

    public List<StoredHeader>? Headers { get; set; }

    public List<StoredHeader>? ContentHeaders { get; set; }

    public List<StoredHeader>? TrailingHeaders { get; set; }

    public List<StoredHeader>? RequestHeaders { get; set; }

    public DateTimeOffset RequestTime { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public List<StoredRedirect>? History { get; set; }

    public List<StoredHeader>? Vary { get; set; }

    public List<string>? Aliases { get; set; }

    public int BodySize { get; set; }
}

internal sealed class StoredHeader
{
    [JsonPropertyName("n")]
    public string? Name { get; set; }

    [JsonPropertyName("v")]
    public string[]? Values { get; set; }
}

internal sealed class StoredRedirect
{
    public string? Method { get; set; }

    public string? Url { get; set; }

    public int Status { get; set; }

    public string[]? SetCookie { get; set; }
}

/// <summary>Stored at a URL's key when its response varies: names the headers, lists the variant keys.</summary>
internal sealed class VaryIndex
{
    public List<string> Names { get; set; } = [];

    /// <summary>Older Vary lists still used by stored variants, most recent first (null in indexes written before it existed).</summary>
    public List<List<string>>? NameSets { get; set; }

    public List<string> Variants { get; set; } = [];

    public DateTimeOffset? DeleteAfter { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StoredResponse))]
[JsonSerializable(typeof(VaryIndex))]
internal sealed partial class StoredJsonContext : JsonSerializerContext;
