namespace CachedHttp;

/// <summary>How stored response bodies are compressed (see <see cref="CacheSerializerOptions.Compression"/>).</summary>
public enum CacheCompression
{
    /// <summary>Bodies are stored as received. A cache hit then serves the stored bytes without a copy.</summary>
    None = 0,

    /// <summary>Brotli (<see cref="System.IO.Compression.BrotliEncoder"/>): the smaller output, for text.</summary>
    Brotli = 1,

    /// <summary>GZip (<see cref="System.IO.Compression.GZipStream"/>): for readers that expect it.</summary>
    GZip = 2,
}
