using System.Buffers;
using System.Buffers.Binary;
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
/// The stored format: a versioned envelope of magic, version, flags, kind, metadata length, metadata
/// (System.Text.Json, source-generated) and the raw body bytes (never Base64).
/// </summary>
/// <remarks>
/// Anything that is not a well-formed envelope of a known version is a <see cref="CacheFormatException"/>,
/// which the backend turns into a miss.
/// </remarks>
internal static class EntrySerializer
{
    public const byte CurrentVersion = 1;
    private const int HeaderSize = 3 + 1 + 1 + 1 + 4;
    private static ReadOnlySpan<byte> Magic => "CHC"u8;

    public static byte[] Serialize(CachedResponse response)
    {
        var metadata = new StoredResponse
        {
            Method = response.Method,
            Url = response.Url.OriginalString,
            Status = (int)response.StatusCode,
            Reason = response.ReasonPhrase,
            Version = response.Version.ToString(),
            Headers = ToStored(response.Headers),
            ContentHeaders = ToStored(response.ContentHeaders),
            TrailingHeaders = response.TrailingHeaders.Count == 0 ? null : ToStored(response.TrailingHeaders),
            RequestHeaders = ToStored(response.RequestHeaders),
            RequestTime = response.RequestTime,
            CreatedAt = response.CreatedAt,
            ExpiresAt = response.ExpiresAt,
            History = response.History.Count == 0 ? null : response.History.Select(h => new StoredRedirect { Method = h.Method, Url = h.Url.OriginalString, Status = h.StatusCode, SetCookie = [.. h.SetCookie] }).ToList(),
            Vary = response.VaryValues.Count == 0 ? null : ToStored(response.VaryValues),
            Aliases = response.AliasKeys.Count == 0 ? null : [.. response.AliasKeys],
            BodySize = response.Body.Length,
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(metadata, StoredJsonContext.Default.StoredResponse);
        return Envelope(EntryKind.Response, json, response.Body.Span);
    }

    public static byte[] SerializeVaryIndex(VaryIndex index)
        => Envelope(EntryKind.VaryIndex, JsonSerializer.SerializeToUtf8Bytes(index, StoredJsonContext.Default.VaryIndex), []);

    public static EntryKind ReadKind(ReadOnlySpan<byte> data)
    {
        ReadHeader(data, out var kind, out _);
        return kind;
    }

    public static VaryIndex DeserializeVaryIndex(ReadOnlyMemory<byte> data)
    {
        ReadHeader(data.Span, out var kind, out var metadataLength);
        if (kind != EntryKind.VaryIndex)
        {
            throw new CacheFormatException("Not a Vary index.");
        }

        try
        {
            return JsonSerializer.Deserialize(data.Span.Slice(HeaderSize, metadataLength), StoredJsonContext.Default.VaryIndex)
                ?? throw new CacheFormatException("Empty Vary index.");
        }
        catch (JsonException ex)
        {
            throw new CacheFormatException("Corrupt Vary index.", ex);
        }
    }

    /// <summary>Deserializes a response; its body is a slice of <paramref name="data"/> (no copy).</summary>
    public static CachedResponse Deserialize(ReadOnlyMemory<byte> data)
    {
        var metadata = ReadMetadata(data, out var bodyStart);
        var body = data[bodyStart..];
        if (body.Length != metadata.BodySize)
        {
            throw new CacheFormatException($"The body has {body.Length} bytes, the metadata says {metadata.BodySize}.");
        }

        try
        {
            return new CachedResponse
            {
                Method = metadata.Method ?? throw new CacheFormatException("No method."),
                Url = new Uri(metadata.Url ?? throw new CacheFormatException("No URL."), UriKind.Absolute),
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
                History = metadata.History?.Select(h => new CachedRedirect(h.Method ?? "GET", new Uri(h.Url ?? throw new CacheFormatException("No redirect URL."), UriKind.Absolute), h.Status, h.SetCookie ?? [])).ToArray() ?? [],
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

    /// <summary>Reads only the metadata of a response entry: the body is neither copied nor parsed.</summary>
    public static StoredResponse ReadMetadata(ReadOnlyMemory<byte> data, out int bodyStart)
    {
        ReadHeader(data.Span, out var kind, out var metadataLength);
        if (kind != EntryKind.Response)
        {
            throw new CacheFormatException("Not a response entry.");
        }

        StoredResponse? metadata;
        try
        {
            metadata = JsonSerializer.Deserialize(data.Span.Slice(HeaderSize, metadataLength), StoredJsonContext.Default.StoredResponse);
        }
        catch (JsonException ex)
        {
            throw new CacheFormatException("Corrupt metadata.", ex);
        }

        bodyStart = HeaderSize + metadataLength;
        return metadata ?? throw new CacheFormatException("Empty metadata.");
    }

    private static void ReadHeader(ReadOnlySpan<byte> data, out EntryKind kind, out int metadataLength)
    {
        if (data.Length < HeaderSize || !data[..3].SequenceEqual(Magic))
        {
            throw new CacheFormatException("Not a CachedHttp entry.");
        }

        if (data[3] != CurrentVersion)
        {
            throw new CacheFormatException($"Unknown entry version {data[3]}.");
        }

        if (data[4] != 0)
        {
            throw new CacheFormatException($"Unsupported entry flags {data[4]}.");
        }

        kind = (EntryKind)data[5];
        if (kind is not (EntryKind.Response or EntryKind.VaryIndex))
        {
            throw new CacheFormatException($"Unknown entry kind {data[5]}.");
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(6, 4));
        if (length > (uint)(data.Length - HeaderSize))
        {
            throw new CacheFormatException("Truncated entry.");
        }

        metadataLength = (int)length;
    }

    private static byte[] Envelope(EntryKind kind, ReadOnlySpan<byte> metadata, ReadOnlySpan<byte> body)
    {
        var result = new byte[HeaderSize + metadata.Length + body.Length];
        Magic.CopyTo(result);
        result[3] = CurrentVersion;
        result[4] = 0;
        result[5] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(6, 4), (uint)metadata.Length);
        metadata.CopyTo(result.AsSpan(HeaderSize));
        body.CopyTo(result.AsSpan(HeaderSize + metadata.Length));
        return result;
    }

    private static List<StoredHeader> ToStored(CachedHeaders headers)
        => headers.Select(h => new StoredHeader { Name = h.Key, Values = h.Value }).ToList();

    private static CachedHeaders FromStored(List<StoredHeader>? headers)
        => headers is null || headers.Count == 0
            ? CachedHeaders.Empty
            : CachedHeaders.FromOwned(headers.Select(h => new KeyValuePair<string, string[]>(h.Name ?? throw new CacheFormatException("Header without a name."), h.Values ?? [])).ToArray());
}

/// <summary>A stored value is not a readable CachedHttp entry.</summary>
internal sealed class CacheFormatException : Exception
{
    public CacheFormatException(string message)
        : base(message)
    {
    }

    public CacheFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
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
