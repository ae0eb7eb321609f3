using System.Net;

namespace CachedHttp;

/// <summary>
/// What the cache knows about one stored response without its body: URL, method, status, sizes and times (see
/// <see cref="CacheBackend.GetEntriesAsync"/>).
/// </summary>
/// <remarks>
/// Immutable. A snapshot taken while listing: the stored response may have changed or gone since. The metadata of a
/// large unencrypted entry is read from the front of the stored value without checking its signature, so it is fit for
/// listing and deleting, never for serving; <see cref="CacheBackend.GetResponseAsync"/> always authenticates.
/// </remarks>
public sealed record CacheEntry
{
    /// <summary>Gets the storage key of the response: its request's key, or, for a Vary variant, the variant's own key.</summary>
    public required string Key { get; init; }

    /// <summary>Gets the request method, upper-case.</summary>
    public required string Method { get; init; }

    /// <summary>Gets the URL of the response as stored (after redirects; the values of <see cref="CacheOptions.SecretParameters"/> are <c>REDACTED</c>).</summary>
    public required Uri Url { get; init; }

    /// <summary>Gets the status code.</summary>
    public required HttpStatusCode StatusCode { get; init; }

    /// <summary>Gets the size of the body in bytes (uncompressed).</summary>
    public long BodySize { get; init; }

    /// <summary>Gets the size of the stored value in bytes: metadata and body, compressed, encrypted and signed as stored.</summary>
    public long StoredSize { get; init; }

    /// <summary>Gets when the response was received and stored (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when the response stops being fresh (UTC), or <see langword="null"/> if it never expires.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Gets when the response was last read or written, or <see langword="null"/> when the storage does not track it.</summary>
    public DateTimeOffset? LastUsedAt { get; init; }

    /// <summary>
    /// Gets when the storage may remove the response (its expiry plus the stale windows the options allow), or
    /// <see langword="null"/> when it is kept until deleted or the storage cannot tell.
    /// </summary>
    public DateTimeOffset? DeleteAfter { get; init; }

    /// <summary>Gets the request header values that select this Vary variant (credentials hashed); empty when the response has no Vary.</summary>
    public CachedHeaders VaryValues { get; init; } = CachedHeaders.Empty;

    /// <summary>Tells whether the response is expired at <paramref name="now"/> (its expiry time is at or before it).</summary>
    /// <param name="now">The time to compare with, usually <see cref="CacheOptions.TimeProvider"/>'s.</param>
    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;

    /// <summary>Gets how long ago the response was stored, at <paramref name="now"/> (zero if it was stored later).</summary>
    /// <param name="now">The time to compare with, usually <see cref="CacheOptions.TimeProvider"/>'s.</param>
    public TimeSpan GetAge(DateTimeOffset now) => now > CreatedAt ? now - CreatedAt : TimeSpan.Zero;
}
