namespace CachedHttp.Sqlite;

/// <summary>
/// Settings of a SQLite cache file, shared by <see cref="SqliteCache"/> and <see cref="SqliteBackend"/>.
/// </summary>
/// <remarks>
/// A storage validates these options once, when it is constructed (<see cref="Validate"/>), and an invalid value
/// throws an <see cref="ArgumentException"/> naming the option. The storage copies the values it needs then, so
/// later changes to this object have no effect on it.
/// </remarks>
public sealed class SqliteCacheOptions
{
    /// <summary>The longest <see cref="BusyTimeout"/> SQLite accepts (its busy timeout is a 32-bit count of milliseconds).</summary>
    private static readonly TimeSpan MaxBusyTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>
    /// Gets or sets a value indicating whether a relative file path is resolved against the temporary folder
    /// (<see cref="Path.GetTempPath"/>) instead of the current directory. An absolute path is used as given.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool UseTemp { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether writes skip waiting for the disk (<c>PRAGMA synchronous = OFF</c>).
    /// Faster, but a power loss or OS crash may lose recent writes or, without WAL, corrupt the file.
    /// </summary>
    /// <value>
    /// The default value is <see langword="false"/>: <c>synchronous = NORMAL</c> in WAL mode (durable against
    /// application crashes, may lose the last commits on power loss) and SQLite's own <c>FULL</c> otherwise.
    /// </value>
    public bool FastSave { get; set; }

    /// <summary>
    /// Gets or sets how long an operation waits for a lock held by another connection or process before it fails
    /// with <c>SQLITE_BUSY</c> (<c>PRAGMA busy_timeout</c>).
    /// </summary>
    /// <value>The default value is 30 seconds. It must be between zero and <see cref="int.MaxValue"/> milliseconds.</value>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets a value indicating whether the file is switched to write-ahead logging (<c>PRAGMA journal_mode = WAL</c>),
    /// so that readers never wait for a writer and a writer never waits for readers.
    /// </summary>
    /// <value>
    /// The default value is <see langword="true"/>. When <see langword="false"/>, the file keeps its current journal
    /// mode (the rollback journal for a new file; WAL is persistent, so a file once in WAL mode stays in it).
    /// WAL needs every process to share memory with the file: do not use it on a network file system.
    /// </value>
    public bool WalMode { get; set; } = true;

    /// <summary>Checks every option and throws on the first invalid one.</summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (BusyTimeout < TimeSpan.Zero || BusyTimeout > MaxBusyTimeout)
        {
            throw new ArgumentException(
                $"{nameof(SqliteCacheOptions)}.{nameof(BusyTimeout)} must be between zero and {MaxBusyTimeout}, not {BusyTimeout}.",
                nameof(BusyTimeout));
        }
    }

    /// <summary>Copies these options.</summary>
    /// <returns>A new object with the same values.</returns>
    public SqliteCacheOptions Clone() => new()
    {
        UseTemp = UseTemp,
        FastSave = FastSave,
        BusyTimeout = BusyTimeout,
        WalMode = WalMode,
    };
}
