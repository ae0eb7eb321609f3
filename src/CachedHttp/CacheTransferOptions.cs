namespace CachedHttp;

/// <summary>What <see cref="CacheExportOptions"/> and <see cref="CacheImportOptions"/> share: how often progress is reported.</summary>
public abstract class CacheTransferOptions
{
    /// <summary>Gets or sets the least time between two progress reports (the final report is always made).</summary>
    /// <remarks>Measured with the backend's <see cref="CacheOptions.TimeProvider"/>. <see cref="TimeSpan.Zero"/> reports after every record.</remarks>
    /// <value>The default value is 250 milliseconds.</value>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Checks these options; called when an export or import starts.</summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    public virtual void Validate()
    {
        if (ProgressInterval < TimeSpan.Zero)
        {
            throw new ArgumentException($"{GetType().Name}.{nameof(ProgressInterval)} must not be negative, not {ProgressInterval}.", nameof(ProgressInterval));
        }
    }
}

/// <summary>Options of <see cref="CacheBackend.ExportAsync"/>.</summary>
public sealed class CacheExportOptions : CacheTransferOptions
{
    /// <summary>Gets or sets a value indicating whether expired responses are exported too.</summary>
    /// <remarks>
    /// An expired response that a backend still holds can be revalidated (it has an ETag or Last-Modified) or served stale
    /// (stale-if-error, stale-while-revalidate). Values past their delete-after time are never exported: storage no longer
    /// returns them.
    /// </remarks>
    /// <value>The default value is <see langword="false"/>: only fresh responses (and the Vary indexes and redirect aliases that lead to them) are exported.</value>
    public bool IncludeExpired { get; set; }

    /// <summary>Gets or sets a value indicating whether the export stream is GZip-compressed as a whole.</summary>
    /// <remarks><see cref="CacheBackend.ImportAsync"/> recognizes a compressed stream by itself.</remarks>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Compress { get; set; }
}

/// <summary>Options of <see cref="CacheBackend.ImportAsync"/>.</summary>
public sealed class CacheImportOptions : CacheTransferOptions
{
    /// <summary>Gets or sets a value indicating whether a response or redirect alias whose key the backend already holds is left as it is.</summary>
    /// <remarks>
    /// A Vary index is merged with the one the backend holds in either case (it lists variants; it is not one), so that the
    /// variants of both stay listed.
    /// </remarks>
    /// <value>The default value is <see langword="false"/>: imported values replace those with the same key.</value>
    public bool SkipExisting { get; set; }
}
