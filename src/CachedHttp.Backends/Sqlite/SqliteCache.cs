using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using CachedHttp.Sqlite.Internal;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Sqlite;

/// <summary>
/// Storage in one table of a SQLite file: a row per key with the value, an optional delete-after time (an indexed
/// column) and bookkeeping. Several tables (for example a backend's <c>responses</c> and <c>redirects</c>) can share
/// one file.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe, and safe for several processes sharing the file. Each operation takes its own connection from a
/// small pool (a connection is opened when every pooled one is busy), so operations in this process never wait for
/// each other here; SQLite orders them in the file. The file is in WAL mode by default (readers and the single
/// writer do not block each other), and an operation that meets a lock waits up to
/// <see cref="SqliteCacheOptions.BusyTimeout"/> before it fails.
/// </para>
/// <para>
/// Operations run synchronously on the calling thread (SQLite has no asynchronous I/O) and usually complete
/// before they return; a cancellation token is checked before an operation starts.
/// </para>
/// <para>
/// The constructor opens the file (creating it and its folders if needed), checks that it is a SQLite database
/// and creates or migrates the table, so a bad file fails there, not at the first request. The table's layout
/// version is kept in the <c>cachedhttp_schema</c> table of the file. Disposing writes the pending last uses (below)
/// and closes the connections this storage opened.
/// </para>
/// <para>
/// Each row has an indexed <c>last_used</c> time: a write sets it; a read only notes it in memory, and a background
/// flush writes the noted times within about a second (at once after 1,024 keys), so reads never write. With size
/// bounds (<see cref="BaseCache.SetSizeLimits"/>), a background trim deletes the rows used longest ago; see
/// <see cref="TrimAsync"/>.
/// </para>
/// </remarks>
public partial class SqliteCache : BaseCache
{
    private static readonly Regex TableNamePattern = new("^[A-Za-z_][A-Za-z0-9_]{0,63}$", RegexOptions.CultureInvariant);

    private readonly SqliteConnectionPool _pool;
    private readonly SqliteStatements _sql;
    private int _disposed;

    /// <summary>Opens (or creates) a SQLite file and a table in it.</summary>
    /// <param name="path">
    /// The file path. <c>.sqlite</c> is appended when the file name has no extension; a relative path is resolved
    /// against the current directory, or the temporary folder with <see cref="SqliteCacheOptions.UseTemp"/>; a
    /// leading <c>~/</c> stands for the user's home folder. Missing folders are created.
    /// </param>
    /// <param name="tableName">The table: letters, digits and underscores, not starting with a digit, at most 64 characters.</param>
    /// <param name="sqliteOptions">The file settings; defaults when null. They are validated now.</param>
    /// <param name="timeProvider">The clock used to honour delete-after times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The path, the table name or an option is invalid.</exception>
    /// <exception cref="InvalidDataException">The file exists but is not a SQLite database, or is damaged.</exception>
    /// <exception cref="IOException">The file cannot be opened or created.</exception>
    /// <exception cref="InvalidOperationException">
    /// The table was written by a newer version of CachedHttp (a newer schema version), or the table exists with
    /// columns that are not a CachedHttp layout.
    /// </exception>
    public SqliteCache(string path, string tableName = "responses", SqliteCacheOptions? sqliteOptions = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ValidateTableName(tableName);
        var options = ValidatedCopy(sqliteOptions);
        var fullPath = ResolvePath(path, options.UseTemp);
        CreateFolder(fullPath);
        _pool = SqliteConnectionPool.Open(fullPath, options);
        TableName = tableName;
        _sql = new SqliteStatements(tableName);
        InitializeOrRelease();
        StartTouchTimer();
    }

    /// <summary>Opens a table over a pool shared with other tables of the same file (the pool gets one more owner).</summary>
    internal SqliteCache(SqliteConnectionPool pool, string tableName, TimeProvider? timeProvider)
        : base(timeProvider)
    {
        ValidateTableName(tableName);
        pool.AddReference();
        _pool = pool;
        TableName = tableName;
        _sql = new SqliteStatements(tableName);
        InitializeOrRelease();
        StartTouchTimer();
    }

    /// <inheritdoc />
    public override string Name => "sqlite";

    /// <summary>Gets the full path of the SQLite file.</summary>
    public string Path => _pool.Path;

    /// <summary>Gets the name of this storage's table.</summary>
    public string TableName { get; }

    /// <summary>Gets the name of the index on the delete-after column, used by <see cref="DeleteExpiredAsync"/>.</summary>
    internal string DeleteAfterIndexName => _sql.IndexName;

    /// <inheritdoc />
    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Run(key, static (self, key) =>
        {
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.Read);
            command.Parameters[0].Value = key;
            command.Parameters[1].Value = self.Now();
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            var value = reader.GetFieldValue<byte[]>(0);
            self.Touched(key);
            return value;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Run(key, static (self, key) =>
        {
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.Contains);
            command.Parameters[0].Value = key;
            command.Parameters[1].Value = self.Now();
            return command.ExecuteScalar() is not null;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Run((key, value, deleteAfter), static (self, state) =>
        {
            var bytes = MemoryMarshal.TryGetArray(state.value, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                ? segment.Array
                : state.value.ToArray();
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.Write);
            command.Parameters[0].Value = state.key;
            command.Parameters[1].Value = bytes;
            command.Parameters[2].Value = ToUnixMilliseconds(state.deleteAfter);
            command.Parameters[3].Value = self.Now();
            command.Parameters[4].Value = (long)bytes.Length;
            command.ExecuteNonQuery();
            self.Wrote(bytes.Length);
            return true;
        }, cancellationToken).AsNonGeneric();
    }

    /// <inheritdoc />
    public override ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Run(key, static (self, key) =>
        {
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.Delete);
            command.Parameters[0].Value = key;
            var deleted = command.ExecuteNonQuery();
            self.Deleted(deleted);
            return deleted > 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One transaction; <c>DELETE … WHERE key IN (…)</c> with up to 500 keys per statement.</remarks>
    public override ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);

        // Materialized first, so that a lazy sequence is not enumerated while the file's write lock is held.
        var list = keys.ToList();
        if (list.Contains(null!))
        {
            throw new ArgumentException("The keys must not contain null.", nameof(keys));
        }

        if (list.Count == 0)
        {
            return ValueTask.FromResult(0);
        }

        return Run(list, static (self, keys) =>
        {
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.DeleteBatch);
            using var transaction = lease.Connection.Connection.BeginTransaction(deferred: false);
            command.Transaction = transaction;
            try
            {
                var deleted = 0;
                for (var start = 0; start < keys.Count; start += SqliteStatements.DeleteBatchSize)
                {
                    // The last batch repeats its last key to fill the prepared statement's parameters; IN ignores repeats.
                    var end = Math.Min(start + SqliteStatements.DeleteBatchSize, keys.Count);
                    for (var i = 0; i < SqliteStatements.DeleteBatchSize; i++)
                    {
                        command.Parameters[i].Value = keys[Math.Min(start + i, end - 1)];
                    }

                    deleted += command.ExecuteNonQuery();
                }

                transaction.Commit();
                self.Deleted(deleted);
                return deleted;
            }
            finally
            {
                command.Transaction = null;
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Streams the rows with one reader (a consistent snapshot of the table); nothing is buffered. The enumeration
    /// holds a pooled connection and a read transaction until it ends: in WAL mode writes go on meanwhile, but with
    /// <see cref="SqliteCacheOptions.WalMode"/> off a write (of any connection) waits for it, up to the busy timeout.
    /// </remarks>
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var lease = Rent();
        var command = lease.Connection.Command(_sql.Keys);
        command.Parameters[0].Value = Now();
        using var reader = command.ExecuteReader();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.GetString(0);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Streams the rows with one reader (a consistent snapshot of the table); one value at a time is in memory. As
    /// with <see cref="GetKeysAsync"/>, the enumeration holds a read transaction until it ends.
    /// </remarks>
    public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var lease = Rent();
        var command = lease.Connection.Command(_sql.Entries);
        command.Parameters[0].Value = Now();
        using var reader = command.ExecuteReader();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new KeyValuePair<string, byte[]>(reader.GetString(0), reader.GetFieldValue<byte[]>(1));
        }
    }

    /// <inheritdoc />
    /// <remarks><c>SELECT COUNT(*)</c> over the live rows.</remarks>
    public override ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
        => Run(0, static (self, _) =>
        {
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.Count);
            command.Parameters[0].Value = self.Now();
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Deletes the rows of this table only; other tables of the file are untouched.</remarks>
    public override ValueTask ClearAsync(CancellationToken cancellationToken = default)
        => Run(0, static (self, _) =>
        {
            using var lease = self.Rent();
            lease.Connection.Command(self._sql.Clear).ExecuteNonQuery();
            Volatile.Write(ref self._totalsKnown, 0);
            return true;
        }, cancellationToken).AsNonGeneric();

    /// <inheritdoc />
    /// <remarks>One <c>DELETE</c> that finds the rows through the index on the delete-after column.</remarks>
    public override ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
        => Run(0, static (self, _) =>
        {
            using var lease = self.Rent();
            var command = lease.Connection.Command(self._sql.DeleteExpired);
            command.Parameters[0].Value = self.Now();
            var deleted = command.ExecuteNonQuery();
            self.Deleted(deleted);
            return deleted;
        }, cancellationToken);

    /// <summary>Gets SQLite's query plan of the statement that <see cref="DeleteExpiredAsync"/> runs (for tests).</summary>
    internal IReadOnlyList<string> ExplainDeleteExpired()
    {
        using var lease = Rent();
        using var command = lease.Connection.Connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + _sql.DeleteExpired.Sql;
        command.Parameters.AddWithValue("$now", Now());
        using var reader = command.ExecuteReader();
        var plan = new List<string>();
        while (reader.Read())
        {
            plan.Add(reader.GetString(reader.GetOrdinal("detail")));
        }

        return plan;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && Volatile.Read(ref _disposed) == 0)
        {
            _flushTimer?.Dispose();
            try
            {
                // The last uses of this process's reads, so that they survive it.
                FlushTouches();
            }
            catch (Exception exception) when (exception is SqliteException or ObjectDisposedException or InvalidOperationException)
            {
                OnBackgroundFailure("touch");
            }

            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _pool.Release();
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>Resolves a user's path to a full file path (see the constructor); creates nothing.</summary>
    internal static string ResolvePath(string path, bool useTemp)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (path == ":memory:" || path.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{path}' is not a file path. Give a file path; for a cache in memory use {nameof(InMemoryCache)}.", nameof(path));
        }

        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
        {
            path = System.IO.Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : string.Empty);
        }

        if (System.IO.Path.EndsInDirectorySeparator(path) || System.IO.Path.GetFileName(path).Length == 0)
        {
            throw new ArgumentException($"'{path}' names a folder; give a file name (for example 'http-cache').", nameof(path));
        }

        if (!System.IO.Path.HasExtension(path))
        {
            path += ".sqlite";
        }

        if (useTemp && !System.IO.Path.IsPathRooted(path))
        {
            path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), path);
        }

        return System.IO.Path.GetFullPath(path);
    }

    /// <summary>Copies and validates the options.</summary>
    internal static SqliteCacheOptions ValidatedCopy(SqliteCacheOptions? options)
    {
        var copy = options?.Clone() ?? new SqliteCacheOptions();
        copy.Validate();
        return copy;
    }

    /// <summary>Creates the folders of a file path.</summary>
    internal static void CreateFolder(string fullPath)
    {
        if (System.IO.Path.GetDirectoryName(fullPath) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }
    }

    private static void ValidateTableName(string tableName)
    {
        ArgumentNullException.ThrowIfNull(tableName);
        if (!TableNamePattern.IsMatch(tableName)
            || tableName.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)
            || tableName.Equals(SchemaTable, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException(
                $"'{tableName}' is not a valid table name: use 1 to 64 letters, digits and underscores, not starting with a digit, "
                + $"and neither 'sqlite_…' nor '{SchemaTable}'.",
                nameof(tableName));
        }
    }

    private static object ToUnixMilliseconds(DateTimeOffset? time) => time is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value;

    private long Now() => TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private ConnectionLease Rent()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _pool.Rent();
    }

    /// <summary>Runs a synchronous operation as a completed value task, its exception (if any) inside the task.</summary>
    private ValueTask<TResult> Run<TState, TResult>(TState state, Func<SqliteCache, TState, TResult> operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        try
        {
            return ValueTask.FromResult(operation(this, state));
        }
        catch (Exception exception)
        {
            return ValueTask.FromException<TResult>(exception);
        }
    }

    private void InitializeOrRelease()
    {
        try
        {
            EnsureSchema();
        }
        catch (SqliteException exception)
        {
            _pool.Release();
            throw SqliteConnectionPool.Translate(exception, Path);
        }
        catch
        {
            _pool.Release();
            throw;
        }
    }
}
