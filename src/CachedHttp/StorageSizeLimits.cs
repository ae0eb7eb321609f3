namespace CachedHttp;

/// <summary>Size bounds a storage enforces by evicting its least-recently-used values (see <see cref="BaseCache.SetSizeLimits"/>).</summary>
/// <remarks>Built by <see cref="CacheBackend"/> from <see cref="CacheOptions.MaxEntries"/> and <see cref="CacheOptions.MaxBytes"/>.</remarks>
public sealed record StorageSizeLimits
{
    /// <summary>Gets the most values kept, or <see langword="null"/> for no bound on the count.</summary>
    public long? MaxEntries { get; init; }

    /// <summary>Gets the most bytes kept (the sum of the stored values' sizes), or <see langword="null"/> for no bound.</summary>
    public long? MaxBytes { get; init; }
}
