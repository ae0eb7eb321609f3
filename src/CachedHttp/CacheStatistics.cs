namespace CachedHttp;

/// <summary>Counts and sizes of what a cache stores (see <see cref="CacheBackend.GetStatisticsAsync"/>).</summary>
/// <remarks>A snapshot taken in one pass over the stores; entries written or removed meanwhile may or may not be counted.</remarks>
public sealed record CacheStatistics
{
    /// <summary>Gets the name of the storage engine (<see cref="CacheBackend.Name"/>).</summary>
    public required string Backend { get; init; }

    /// <summary>Gets the number of stored responses (each Vary variant counts once; Vary indexes and redirect aliases do not).</summary>
    public long ResponseCount { get; init; }

    /// <summary>Gets how many of the <see cref="ResponseCount"/> responses are expired (kept for revalidation or stale use, or not yet removed).</summary>
    public long ExpiredCount { get; init; }

    /// <summary>Gets the number of Vary indexes: one per URL whose responses vary, listing its variants.</summary>
    public long VaryIndexCount { get; init; }

    /// <summary>Gets the number of redirect aliases (one per redirect hop that leads to a stored response).</summary>
    public long RedirectCount { get; init; }

    /// <summary>
    /// Gets the number of stored values that cannot be read with this backend's options: corrupt, of an unknown format
    /// version, or signed or encrypted with keys that are not configured. They are never served.
    /// </summary>
    public long UnreadableCount { get; init; }

    /// <summary>Gets the sum of the body sizes of the responses, uncompressed.</summary>
    public long BodyBytes { get; init; }

    /// <summary>
    /// Gets the bytes the store of responses holds — every stored value (responses, Vary indexes, unreadable values) —
    /// as the storage counts them (<see cref="BaseCache.GetTotalBytesAsync"/>: files count their own headers too).
    /// </summary>
    public long ResponseBytes { get; init; }

    /// <summary>Gets the bytes the store of redirect aliases holds, as the storage counts them.</summary>
    public long RedirectBytes { get; init; }

    /// <summary>Gets the bytes both stores hold: <see cref="ResponseBytes"/> plus <see cref="RedirectBytes"/>.</summary>
    public long TotalBytes => ResponseBytes + RedirectBytes;

    /// <summary>Gets when the oldest response was stored, or <see langword="null"/> when there is none.</summary>
    public DateTimeOffset? OldestCreatedAt { get; init; }

    /// <summary>Gets when the newest response was stored, or <see langword="null"/> when there is none.</summary>
    public DateTimeOffset? NewestCreatedAt { get; init; }
}
