namespace CachedHttp;

/// <summary>What is wrong with an export stream (see <see cref="CacheExportFormatException.Error"/>).</summary>
public enum CacheExportFormatError
{
    /// <summary>The data is not a CachedHttp export at all (wrong magic bytes, or empty).</summary>
    NotAnExport,

    /// <summary>The export has a format version (or flags) that this version of CachedHttp does not read: import it with a newer one.</summary>
    UnsupportedVersion,

    /// <summary>The export ends early: inside a record, or without its end record, or with fewer records than its end record counts.</summary>
    Truncated,

    /// <summary>A record (or the header) is damaged: a checksum mismatch, an impossible length, or content that is not a valid entry.</summary>
    Corrupt,
}

/// <summary>An export stream cannot be imported: it is not an export, is of an unknown version, or is truncated or damaged.</summary>
/// <remarks>
/// An import writes each record as it reads it, so when this is thrown by <see cref="CacheBackend.ImportAsync"/> the records
/// before <see cref="RecordNumber"/> have been imported and stay imported; <see cref="Progress"/> counts them.
/// </remarks>
public sealed class CacheExportFormatException : IOException
{
    /// <summary>Initializes a new exception.</summary>
    /// <param name="error">What is wrong.</param>
    /// <param name="recordNumber">The number of the record at fault, from 1; null for the header.</param>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause, if any.</param>
    public CacheExportFormatException(CacheExportFormatError error, long? recordNumber, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
        RecordNumber = recordNumber;
    }

    /// <summary>Gets what is wrong.</summary>
    public CacheExportFormatError Error { get; }

    /// <summary>Gets the number of the record at fault, counting from 1 after the header; <see langword="null"/> when the header is at fault.</summary>
    public long? RecordNumber { get; }

    /// <summary>Gets the format version the export declares, when <see cref="Error"/> is <see cref="CacheExportFormatError.UnsupportedVersion"/>.</summary>
    public int? FormatVersion { get; init; }

    /// <summary>Gets what the import had done when it stopped: the records before the one at fault are imported.</summary>
    public CacheTransferProgress? Progress { get; internal set; }
}
