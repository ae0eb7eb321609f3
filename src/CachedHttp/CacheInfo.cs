namespace CachedHttp;

/// <summary>How the cache handled a request.</summary>
public enum CacheStatus
{
    /// <summary>The response did not pass through a cache.</summary>
    None,

    /// <summary>Served from the cache without contacting the origin.</summary>
    Hit,

    /// <summary>Fetched from the origin (and stored if allowed).</summary>
    Miss,

    /// <summary>A stale stored response was served (stale-while-revalidate, stale-if-error or max-stale).</summary>
    Stale,

    /// <summary>A stored response was validated with the origin (304) and served.</summary>
    Revalidated,

    /// <summary>The cache was not used (disabled, do-not-cache, method not cached, or storage unavailable).</summary>
    Bypassed,

    /// <summary>Nothing suitable was stored for an only-if-cached request: a 504 was synthesized.</summary>
    OnlyIfCachedMiss,
}

/// <summary>What the cache knows of a response, on hits and on live responses alike.</summary>
/// <param name="Status">How the cache handled the request.</param>
/// <param name="Key">The cache key, or null when the cache was bypassed before keying.</param>
/// <param name="CreatedAt">When the response was stored or received (UTC).</param>
/// <param name="ExpiresAt">When it stops being fresh (UTC), null if never, or if it was not stored.</param>
/// <param name="IsExpired">Whether it was expired when served.</param>
/// <param name="Revalidated">Whether it was validated with the origin (a 304) before being served.</param>
/// <param name="Stored">Whether this response was (or already is) stored.</param>
public sealed record CacheInfo(CacheStatus Status, string? Key, DateTimeOffset? CreatedAt, DateTimeOffset? ExpiresAt, bool IsExpired, bool Revalidated, bool Stored)
{
    /// <summary>Gets the information of a response that did not pass through a cache.</summary>
    public static CacheInfo None { get; } = new(CacheStatus.None, null, null, null, false, false, false);

    /// <summary>Gets a value indicating whether the response was served from the cache (hit, stale or revalidated).</summary>
    public bool FromCache => Status is CacheStatus.Hit or CacheStatus.Stale or CacheStatus.Revalidated;
}
