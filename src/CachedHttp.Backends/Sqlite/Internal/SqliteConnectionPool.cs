using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Sqlite.Internal;

/// <summary>
/// Open connections to one SQLite file, each used by one operation at a time. An operation takes an idle
/// connection or opens a new one, so concurrent operations never wait for each other in this process; SQLite's
/// own locks (WAL: many readers, one writer, with the busy timeout) order them in the file.
/// </summary>
/// <remarks>
/// Connections are opened with Microsoft.Data.Sqlite's pooling off: this pool keeps them open with their pragmas
/// applied and their statements prepared. At most <see cref="MaxIdle"/> idle connections are kept; more are opened
/// when more operations run at once and closed when they end. The pool is shared by reference counting (a
/// <see cref="SqliteBackend"/> shares one between its two tables) and closes every connection on the last release.
/// </remarks>
internal sealed class SqliteConnectionPool
{
    private const int MaxIdle = 16;

    private readonly ConcurrentBag<PooledConnection> _idle = [];
    private readonly string _connectionString;
    private readonly string _connectionPragmas;
    private int _idleCount;
    private int _references = 1;
    private volatile bool _disposed;

    private SqliteConnectionPool(string path, SqliteCacheOptions options)
    {
        Path = path;
        Options = options;
        var busyMilliseconds = (long)options.BusyTimeout.TotalMilliseconds;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,

            // Microsoft.Data.Sqlite retries a busy statement until its command timeout (whole seconds; 0 = forever);
            // SQLite's busy_timeout below does the actual waiting with finer sleeps.
            DefaultTimeout = (int)Math.Max(1, Math.Ceiling(options.BusyTimeout.TotalSeconds)),
        }.ToString();
        _connectionPragmas = string.Create(
            CultureInfo.InvariantCulture,
            $"PRAGMA busy_timeout = {busyMilliseconds};{(options.FastSave ? " PRAGMA synchronous = OFF;" : options.WalMode ? " PRAGMA synchronous = NORMAL;" : string.Empty)}");
    }

    /// <summary>Gets the full path of the file.</summary>
    public string Path { get; }

    /// <summary>Gets the validated options (a private copy).</summary>
    public SqliteCacheOptions Options { get; }

    /// <summary>Opens a pool over a file: creates the file if needed, checks that it is a database and sets its journal mode.</summary>
    /// <param name="path">The full path of the file; its folder exists.</param>
    /// <param name="options">The validated options (a private copy).</param>
    /// <exception cref="InvalidDataException">The file is not a SQLite database or is damaged.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static SqliteConnectionPool Open(string path, SqliteCacheOptions options)
    {
        var pool = new SqliteConnectionPool(path, options);
        try
        {
            var connection = pool.OpenConnection();
            try
            {
                // Reads the header: a file that is not a database fails here, at construction. WAL is persistent in
                // the file, so setting it once is enough for every later connection (of any process).
                connection.ExecuteScalar(options.WalMode ? "PRAGMA journal_mode = WAL" : "PRAGMA schema_version");
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            pool.Return(connection);
            return pool;
        }
        catch (SqliteException exception)
        {
            pool.Release();
            throw Translate(exception, path);
        }
    }

    /// <summary>Turns an error of opening the file into an exception that names the file.</summary>
    public static Exception Translate(SqliteException exception, string path) => exception.SqliteErrorCode switch
    {
        // SQLITE_CORRUPT, SQLITE_NOTADB
        11 or 26 => new InvalidDataException(
            $"The SQLite cache file '{path}' is not a SQLite database or is damaged ({exception.Message}). Delete it or choose another path.",
            exception),

        // SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN
        3 or 8 or 10 or 14 => new IOException($"The SQLite cache file '{path}' cannot be opened ({exception.Message}).", exception),
        _ => exception,
    };

    /// <summary>Takes an idle connection, or opens one.</summary>
    /// <exception cref="ObjectDisposedException">The pool was closed.</exception>
    public ConnectionLease Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryTake(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
            return new ConnectionLease(this, connection);
        }

        return new ConnectionLease(this, OpenConnection());
    }

    /// <summary>Gives a connection back: kept if it is clean and the pool has room, closed otherwise.</summary>
    public void Return(PooledConnection connection)
    {
        if (_disposed || !connection.IsReusable)
        {
            connection.Dispose();
            return;
        }

        if (Interlocked.Increment(ref _idleCount) > MaxIdle)
        {
            Interlocked.Decrement(ref _idleCount);
            connection.Dispose();
            return;
        }

        _idle.Add(connection);
        if (_disposed)
        {
            CloseIdle(); // raced with the last release
        }
    }

    /// <summary>Adds an owner.</summary>
    public void AddReference()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Interlocked.Increment(ref _references);
    }

    /// <summary>Removes an owner; the last one closes the idle connections (connections in use close when returned).</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _disposed = true;
            CloseIdle();
        }
    }

    private void CloseIdle()
    {
        while (_idle.TryTake(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
            connection.Dispose();
        }
    }

    private PooledConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = _connectionPragmas;
                command.ExecuteNonQuery();
            }

            return new PooledConnection(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
