namespace CachedHttp;

/// <summary>What a storage knows about one stored value without reading it whole (see <see cref="BaseCache.GetEntryInfosAsync"/>).</summary>
/// <param name="Key">The key.</param>
/// <param name="Size">The size of the stored value, in bytes.</param>
public sealed record StoredEntryInfo(string Key, long Size)
{
    /// <summary>Gets when the value was last read or written, when the storage tracks it.</summary>
    public DateTimeOffset? LastUsedAt { get; init; }

    /// <summary>Gets the delete-after time the value was written with, when the storage can tell.</summary>
    public DateTimeOffset? DeleteAfter { get; init; }

    /// <summary>Gets the leading bytes of the value that were asked for (fewer when the value is shorter).</summary>
    public ReadOnlyMemory<byte> Head { get; init; }
}
