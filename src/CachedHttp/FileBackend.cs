namespace CachedHttp;

/// <summary>
/// A backend that keeps responses in files: <c>{directory}/responses/</c> and redirect aliases in
/// <c>{directory}/redirects/</c>, one <see cref="FileCache"/> each.
/// </summary>
/// <remarks>
/// <para>
/// Writes are atomic (a temporary file renamed into place), so a crash or a concurrent writer never leaves a torn
/// entry, and several processes may share one directory. See <see cref="FileCache"/> for the file layout and
/// <see cref="FileCacheOptions.ReadableFormat"/> for a layout meant to be inspected by hand.
/// </para>
/// <para>
/// Thread-safe. <see cref="CacheBackend.AutoClose"/> is on by default, as in the original library: disposing a
/// <see cref="CachedSession"/> disposes this backend (which leaves the files in place).
/// </para>
/// </remarks>
/// <example><code>using var session = new CachedSession(new FileBackend("http_cache"));</code></example>
public class FileBackend : CacheBackend
{
    /// <summary>The cache directory used when none is given (relative to the current directory, or to the temporary folder with <see cref="FileCacheOptions.UseTemp"/>).</summary>
    public const string DefaultDirectory = "http_cache";

    /// <summary>Initializes a backend in <paramref name="directory"/>, creating its folders if needed.</summary>
    /// <param name="directory">
    /// The cache directory; <see cref="DefaultDirectory"/> when omitted. A leading <c>~</c> is the user's home folder; a
    /// relative path is relative to the current directory, or to the temporary folder when
    /// <see cref="FileCacheOptions.UseTemp"/> is on.
    /// </param>
    /// <param name="options">The caching options; defaults when null. They are validated now.</param>
    /// <param name="fileOptions">The file options; defaults when null. They are validated and copied now.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty, or an option is invalid.</exception>
    /// <exception cref="IOException">The folders cannot be created.</exception>
    public FileBackend(string directory = DefaultDirectory, CacheOptions? options = null, FileCacheOptions? fileOptions = null)
        : base(options, StoreFactory(directory, fileOptions))
    {
        Directory = ((FileCache)Responses).RootDirectory;
    }

    /// <summary>Gets the full path of the cache directory.</summary>
    public string Directory { get; }

    /// <inheritdoc />
    /// <value>Always <see langword="true"/>: a file cache is closed with the session that uses it, unless <see cref="CacheOptions.AutoClose"/> says otherwise.</value>
    protected override bool AutoCloseByDefault => true;

    private static Func<CacheOptions, string, BaseCache> StoreFactory(string directory, FileCacheOptions? fileOptions)
    {
        // Validate before the base constructor creates anything.
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        fileOptions ??= new FileCacheOptions();
        fileOptions.Validate();
        return (options, storeName) => new FileCache(directory, storeName, fileOptions, options.TimeProvider);
    }
}
