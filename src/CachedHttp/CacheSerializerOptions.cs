using System.IO.Compression;

namespace CachedHttp;

/// <summary>
/// How a <see cref="CacheBackend"/> writes entries to storage: compression of bodies, signing (HMAC-SHA256) and
/// authenticated encryption (AES-GCM) of whole entries, each with a list of keys for rotation.
/// </summary>
/// <remarks>
/// <para>
/// A backend reads these options once, when it is constructed (<see cref="CacheOptions.Validate"/> checks them then);
/// change them before building the backend. Each protection that is configured is applied to every entry written
/// and <em>required</em> of every entry read: with <see cref="SigningKeys"/> set, an unsigned entry (including one
/// written before signing was turned on) is a miss; with <see cref="EncryptionKeys"/> set, an unencrypted entry is a
/// miss. A wrong key, a changed byte, a truncated entry, or an entry of an unknown format version is a miss too —
/// logged, counted in the <c>cachedhttp.entries.rejected</c> metric, deleted, and never an exception to the caller.
/// </para>
/// <para>
/// Keys are secrets: load them from a secret store, not from source code. Use different keys for signing and for
/// encryption. See <c>docs/security.md</c> for rotation.
/// </para>
/// </remarks>
public sealed class CacheSerializerOptions
{
    /// <summary>Gets or sets the compression of stored bodies.</summary>
    /// <remarks>
    /// Only bodies larger than <see cref="CompressionThreshold"/> (and not larger than <see cref="CacheOptions.MaxBodySize"/>)
    /// whose <c>Content-Type</c> is compressible are compressed: <c>text/*</c>, JSON, XML, JavaScript, SVG, YAML and form
    /// data. Bodies that carry a <c>Content-Encoding</c> (already compressed) and other types (images, video, audio,
    /// archives, <c>application/octet-stream</c>) are stored as they are, and so is a body that would not get smaller.
    /// </remarks>
    /// <value>
    /// The default value is <see cref="CacheCompression.None"/>: a hit then serves a slice of the stored bytes with no
    /// decompression and no copy. Choose <see cref="CacheCompression.Brotli"/> to save memory or network (Redis, DynamoDB's
    /// 400 KB item limit), at the cost of a decompression on every hit.
    /// </value>
    public CacheCompression Compression { get; set; } = CacheCompression.None;

    /// <summary>Gets or sets the body size, in bytes, above which compressible bodies are compressed.</summary>
    /// <value>The default value is 1024 (1 KiB).</value>
    public int CompressionThreshold { get; set; } = 1024;

    /// <summary>Gets or sets the compression level.</summary>
    /// <value>The default value is <see cref="System.IO.Compression.CompressionLevel.Fastest"/> (Brotli quality 1).</value>
    public CompressionLevel CompressionLevel { get; set; } = CompressionLevel.Fastest;

    /// <summary>
    /// Gets or sets the keys that sign entries with HMAC-SHA256 (the original's <c>secret_key</c>). The first key signs;
    /// every key verifies, so that keys can be rotated. Each key has at least 16 bytes (32 random bytes recommended).
    /// </summary>
    /// <remarks>
    /// The signature covers the whole entry (header, metadata, body) and the key under which it is stored, so an entry
    /// cannot be changed, nor moved to another key. Signing detects tampering; it does not hide anything: use
    /// <see cref="EncryptionKeys"/> for that (encryption authenticates too, so signing is then optional).
    /// </remarks>
    /// <value>The default value is an empty list (entries are not signed).</value>
    public IList<byte[]> SigningKeys { get; set; } = new List<byte[]>();

    /// <summary>
    /// Gets or sets the AES-GCM keys (16, 24 or 32 bytes each) that encrypt entries. The first key encrypts; every key
    /// decrypts, so that keys can be rotated (each entry names its key by a 4-byte key id).
    /// </summary>
    /// <remarks>
    /// Metadata (URL, headers, cookies) and body are encrypted together, with a random 12-byte nonce per entry and a
    /// 16-byte tag; the clear header (format version, flags, expiry time, body size) and the storage key are
    /// authenticated as associated data. Only the expiry time and sizes stay readable without a key, so that expired
    /// entries can be swept.
    /// </remarks>
    /// <value>The default value is an empty list (entries are not encrypted).</value>
    public IList<byte[]> EncryptionKeys { get; set; } = new List<byte[]>();

    /// <summary>Copies these options (the key lists and the keys are copied too).</summary>
    public CacheSerializerOptions Clone() => new()
    {
        Compression = Compression,
        CompressionThreshold = CompressionThreshold,
        CompressionLevel = CompressionLevel,
        SigningKeys = SigningKeys.Select(k => k is null ? null! : (byte[])k.Clone()).ToList(),
        EncryptionKeys = EncryptionKeys.Select(k => k is null ? null! : (byte[])k.Clone()).ToList(),
    };

    /// <summary>Checks these options as part of <see cref="CacheOptions.Validate"/>.</summary>
    internal void Validate(string option)
    {
        Require(Enum.IsDefined(Compression), option + "." + nameof(Compression), $"is {(int)Compression}, which is not a CacheCompression value");
        Require(CompressionThreshold >= 0, option + "." + nameof(CompressionThreshold), $"must be zero or positive, not {CompressionThreshold}");
        Require(Enum.IsDefined(CompressionLevel), option + "." + nameof(CompressionLevel), $"is {(int)CompressionLevel}, which is not a CompressionLevel value");
        var signing = option + "." + nameof(SigningKeys);
        Require(SigningKeys is not null, signing, "must not be null; use an empty list");
        for (var i = 0; i < SigningKeys!.Count; i++)
        {
            Require(SigningKeys[i] is { Length: >= 16 }, signing, $"[{i}] has {SigningKeys[i]?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} bytes; an HMAC-SHA256 key needs at least 16 (32 random bytes recommended)");
        }

        var encryption = option + "." + nameof(EncryptionKeys);
        Require(EncryptionKeys is not null, encryption, "must not be null; use an empty list");
        for (var i = 0; i < EncryptionKeys!.Count; i++)
        {
            Require(EncryptionKeys[i] is { Length: 16 or 24 or 32 }, encryption, $"[{i}] has {EncryptionKeys[i]?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} bytes; an AES-GCM key has 16, 24 or 32");
        }
    }

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"CacheOptions.{option}{(problem.StartsWith('[') ? string.Empty : " ")}{problem}.", option);
        }
    }
}
