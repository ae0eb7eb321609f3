namespace CachedHttp;

/// <summary>Size bounds a storage enforces by evicting its least-recently-used values (see <see cref="BaseCache.SetSizeLimits"/>).</summary>
/// <remarks>Built by <see cref="CacheBackend"/> from <see cref="CacheOptions.MaxEntries"/> and <see cref="CacheOptions.MaxBytes"/>.</remarks>
public sealed record StorageSizeLimits
{
    /// <summary>Gets the most values kept, or <see langword="null"/> for no bound on the count.</summary>
    public long? MaxEntries { get; init; }

    /// <summary>Gets the most bytes kept (the sum of the stored values' sizes), or <see langword="null"/> for no bound.</summary>
    public long? MaxBytes { get; init; }

    /// <summary>Gets how many values a trim leaves at most: <see cref="MaxEntries"/> less 1/64 of it (the bound itself below 64).</summary>
    /// <remarks>
    /// Trimming a little below the bound gives the next writes room, so that a storage at its bound is not trimmed
    /// (a scan of every value) after every write.
    /// </remarks>
    public long? TrimToEntries => MaxEntries is { } max ? TrimTarget(max) : null;

    /// <summary>Gets how many bytes a trim leaves at most: <see cref="MaxBytes"/> less 1/64 of it.</summary>
    public long? TrimToBytes => MaxBytes is { } max ? TrimTarget(max) : null;

    /// <summary>Tells whether a storage holding <paramref name="entries"/> values of <paramref name="bytes"/> bytes is over a bound.</summary>
    /// <param name="entries">How many values the storage holds.</param>
    /// <param name="bytes">How many bytes the storage holds.</param>
    /// <returns><see langword="true"/> when either bound is exceeded.</returns>
    public bool IsExceededBy(long entries, long bytes) => entries > MaxEntries || bytes > MaxBytes;

    /// <summary>Tells whether a storage holding <paramref name="entries"/> values of <paramref name="bytes"/> bytes is down to what a trim leaves.</summary>
    /// <param name="entries">How many values the storage holds.</param>
    /// <param name="bytes">How many bytes the storage holds.</param>
    /// <returns><see langword="true"/> when neither <see cref="TrimToEntries"/> nor <see cref="TrimToBytes"/> is exceeded.</returns>
    public bool IsTrimmedTo(long entries, long bytes) => !(entries > TrimToEntries || bytes > TrimToBytes);

    private static long TrimTarget(long bound) => bound - (bound / 64);
}
