using CachedHttp.Sqlite.Internal;

namespace CachedHttp.Sqlite;

/// <summary>
/// A <see cref="CacheBackend"/> that keeps responses and redirect aliases in one SQLite file, in the tables
/// <c>responses</c> and <c>redirects</c> (two <see cref="SqliteCache"/> stores sharing one connection pool).
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe, and safe for several processes sharing the file (see <see cref="SqliteCache"/>). Meant to be a
/// singleton per file in a process.
/// </para>
/// <para>
/// The constructor opens or creates the file and its tables, so a bad path or file fails there. The backend owns
/// the connections it opens; <see cref="CacheBackend.AutoClose"/> is on by default, so disposing a
/// <see cref="CachedSession"/> over it closes the file (set <see cref="CacheOptions.AutoClose"/> to
/// <see langword="false"/> to share the backend between sessions).
/// </para>
/// </remarks>
public class SqliteBackend : CacheBackend
{
    /// <summary>Opens (or creates) a SQLite cache file.</summary>
    /// <param name="path">
    /// The file path, or just a name: <c>"http-cache"</c> becomes <c>http-cache.sqlite</c> in the current directory
    /// (or in the temporary folder with <see cref="SqliteCacheOptions.UseTemp"/>). <c>.sqlite</c> is appended when the
    /// file name has no extension, a leading <c>~/</c> stands for the user's home folder, and missing folders are created.
    /// </param>
    /// <param name="options">The cache options; defaults when null. They are validated now.</param>
    /// <param name="sqliteOptions">The file settings; defaults when null. They are validated now.</param>
    /// <exception cref="ArgumentException">The path or an option is invalid.</exception>
    /// <exception cref="InvalidDataException">The file exists but is not a SQLite database, or is damaged.</exception>
    /// <exception cref="IOException">The file cannot be opened or created.</exception>
    /// <exception cref="InvalidOperationException">A table of the file was written by a newer version of CachedHttp, or is not a cache table.</exception>
    public SqliteBackend(string path, CacheOptions? options = null, SqliteCacheOptions? sqliteOptions = null)
        : this(new StoreFactory(path, sqliteOptions), options)
    {
    }

    private SqliteBackend(StoreFactory factory, CacheOptions? options)
        : base(options, factory.CreateStore)
    {
        Path = factory.Path;
        factory.Release();
    }

    /// <summary>Gets the full path of the SQLite file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public override string Name => "sqlite";

    /// <inheritdoc />
    /// <value><see langword="true"/>: a session closes the file it was given unless told otherwise.</value>
    protected override bool AutoCloseByDefault => true;

    /// <summary>
    /// Creates the two stores over one pool. The pool is opened at the first store (after the base constructor has
    /// validated the cache options), and the stores created so far are disposed if a later one fails.
    /// </summary>
    private sealed class StoreFactory
    {
        private readonly SqliteCacheOptions _options;
        private readonly List<SqliteCache> _created = [];
        private SqliteConnectionPool? _pool;

        public StoreFactory(string path, SqliteCacheOptions? sqliteOptions)
        {
            _options = SqliteCache.ValidatedCopy(sqliteOptions);
            Path = SqliteCache.ResolvePath(path, _options.UseTemp);
        }

        public string Path { get; }

        public BaseCache CreateStore(CacheOptions options, string name)
        {
            try
            {
                if (_pool is null)
                {
                    SqliteCache.CreateFolder(Path);
                    _pool = SqliteConnectionPool.Open(Path, _options);
                }

                var store = new SqliteCache(_pool, name, options.TimeProvider);
                _created.Add(store);
                return store;
            }
            catch
            {
                foreach (var store in _created)
                {
                    store.Dispose();
                }

                Release();
                throw;
            }
        }

        /// <summary>Drops the factory's own reference to the pool; the stores keep theirs.</summary>
        public void Release()
        {
            _pool?.Release();
            _pool = null;
        }
    }
}
