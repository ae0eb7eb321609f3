namespace CachedHttp;

/// <summary>How far an export or import has come (see <see cref="CacheBackend.ExportAsync"/> and <see cref="CacheBackend.ImportAsync"/>).</summary>
/// <remarks>Immutable: each report is a new instance, and its counts never decrease from one report to the next.</remarks>
public record CacheTransferProgress
{
    /// <summary>Gets the number of response entries exported or imported (each Vary variant is one).</summary>
    public long Responses { get; init; }

    /// <summary>Gets the number of Vary indexes exported or imported.</summary>
    public long VaryIndexes { get; init; }

    /// <summary>Gets the number of redirect aliases exported or imported.</summary>
    public long Redirects { get; init; }

    /// <summary>Gets the number of entries left out because they had expired (export) or were past their delete-after time (import).</summary>
    public long SkippedExpired { get; init; }

    /// <summary>Gets the number of stored values the export could not read with the backend's options (undecodable, or of a key it does not have) and left out, and redirect aliases whose response is gone.</summary>
    public long SkippedUnreadable { get; init; }

    /// <summary>Gets the number of entries the import left as they were because the backend held their key (<see cref="CacheImportOptions.SkipExisting"/>).</summary>
    public long SkippedExisting { get; init; }

    /// <summary>Gets the number of bytes of the export format written or read so far (before GZip compression, after decompression).</summary>
    public long Bytes { get; init; }

    /// <summary>Gets the time since the transfer started, measured with the backend's <see cref="CacheOptions.TimeProvider"/>.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Gets the number of entries exported or imported: responses, Vary indexes and redirect aliases.</summary>
    public long Entries => Responses + VaryIndexes + Redirects;

    /// <summary>Gets the number of entries left out, for any reason.</summary>
    public long Skipped => SkippedExpired + SkippedUnreadable + SkippedExisting;
}

/// <summary>The outcome of a completed export or import: its final counts.</summary>
public sealed record CacheTransferResult : CacheTransferProgress
{
    /// <summary>Gets when the export was made (for an import, as its header says).</summary>
    public DateTimeOffset ExportedAt { get; init; }
}
