namespace CachedHttp;

/// <summary>Options of the filesystem storage (<see cref="FileCache"/>) and backend (<see cref="FileBackend"/>).</summary>
/// <remarks>
/// A storage copies the values when it is created and validates them then; changing an instance afterwards does not
/// affect storages already created from it.
/// </remarks>
public sealed class FileCacheOptions
{
    /// <summary>
    /// Gets or sets a value indicating whether each written file is flushed to the physical disk (fsync) before it is
    /// renamed into place, so that an entry survives a power loss, not only a process crash.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: writes are atomic but may be lost on power failure.</value>
    /// <remarks>
    /// Flushing makes every write wait for the disk; it is rarely worth it for a cache. The rename that follows is not
    /// flushed itself (.NET cannot fsync a directory), so after a power loss a key may show its previous value, but
    /// never a torn one.
    /// </remarks>
    public bool FlushToDisk { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether entries are written in a format meant to be inspected by hand: two
    /// files per entry, <c>{hash}.json</c> (the key, the delete-after time and, for CachedHttp responses, their
    /// metadata pretty-printed) and <c>{hash}.body</c> (the raw HTTP body, or the whole value when it is not a
    /// CachedHttp response).
    /// </summary>
    /// <value>The default value is <see langword="false"/>: one compact binary file <c>{hash}.chc</c> per entry.</value>
    /// <remarks>
    /// A storage reads only the format it writes; switch formats on an empty (cleared) directory. Both formats are
    /// removed by <see cref="FileCache.ClearAsync"/>.
    /// </remarks>
    public bool ReadableFormat { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether a relative cache directory is placed under the user's temporary folder
    /// (<see cref="Path.GetTempPath"/>) instead of the current directory. An absolute directory is used as given.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool UseTemp { get; set; }

    /// <summary>
    /// Gets or sets how old a leftover temporary file (from a writer that crashed between writing and renaming) must be
    /// before <see cref="FileCache.DeleteExpiredAsync"/> removes it. Younger ones may belong to a write in progress,
    /// possibly in another process.
    /// </summary>
    /// <value>The default value is one hour.</value>
    public TimeSpan TempFileRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Checks every option and throws on the first invalid one.</summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (TempFileRetention < TimeSpan.Zero)
        {
            throw new ArgumentException($"FileCacheOptions.{nameof(TempFileRetention)} must not be negative, not {TempFileRetention}.", nameof(TempFileRetention));
        }
    }
}
