using System.Globalization;
using CachedHttp.Sqlite.Internal;

namespace CachedHttp.Sqlite;

/// <summary>Creating and migrating the table.</summary>
public partial class SqliteCache
{
    /// <summary>
    /// The layout version of a cache table that this code reads and writes.
    /// 0 (no row in <c>cachedhttp_schema</c>): the layout of the original Python library, <c>(key, value)</c>.
    /// 1: <c>(key TEXT PRIMARY KEY, value BLOB, delete_after INTEGER NULL, created_at INTEGER, size INTEGER)</c>
    /// in a rowid table (incremental blob I/O needs the rowid), with an index on <c>delete_after</c>.
    /// 2: version 1 and <c>last_used INTEGER</c> (Unix milliseconds of the last read or write, for least-recently-used
    /// eviction), with an index on it.
    /// </summary>
    internal const int SchemaVersion = 2;

    /// <summary>The table of the file that records each cache table's layout version.</summary>
    internal const string SchemaTable = "cachedhttp_schema";

    private static readonly string[] CurrentColumns = ["key", "value", "delete_after", "created_at", "size", "last_used"];
    private static readonly string[] Version1Columns = ["key", "value", "delete_after", "created_at", "size"];
    private static readonly string[] LegacyColumns = ["key", "value"];

    /// <summary>
    /// Creates the table, or checks and migrates it, in one write transaction (so concurrent constructors in other
    /// connections or processes wait for each other instead of racing).
    /// </summary>
    private void EnsureSchema()
    {
        using var lease = _pool.Rent();
        var connection = lease.Connection;
        using var transaction = connection.Connection.BeginTransaction(deferred: false);
        connection.ExecuteScalar(
            $"CREATE TABLE IF NOT EXISTS {SchemaTable} (table_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, version INTEGER NOT NULL)",
            transaction);
        var stored = connection.ExecuteScalar($"SELECT version FROM {SchemaTable} WHERE table_name = $table", transaction, ("$table", TableName));
        var version = stored is null ? 0 : Convert.ToInt64(stored, CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException(
                $"The SQLite cache file '{Path}' has table '{TableName}' at schema version {version}, but this version of CachedHttp "
                + $"supports schema version {SchemaVersion} at most. Use a newer version of CachedHttp, or another file.");
        }

        if (version < SchemaVersion)
        {
            Migrate(connection, transaction);
            connection.ExecuteScalar(
                $"INSERT INTO {SchemaTable} (table_name, version) VALUES ($table, $version) ON CONFLICT (table_name) DO UPDATE SET version = excluded.version",
                transaction,
                ("$table", TableName),
                ("$version", SchemaVersion));
        }

        connection.ExecuteScalar(_sql.CreateIndex, transaction);
        connection.ExecuteScalar(_sql.CreateLastUsedIndex, transaction);
        transaction.Commit();
    }

    /// <summary>Brings an older table (or none) to the current layout.</summary>
    /// <remarks>
    /// <para>
    /// A version 1 table gets its <c>last_used</c> column, set to each row's <c>created_at</c> (the best estimate of its
    /// last use), in place: no row is copied.
    /// </para>
    /// <para>
    /// A table in the original library's layout <c>(key, value)</c> is rebuilt in the current layout and keeps its
    /// rows (with no delete-after time). Their values are in that library's format, which CachedHttp does not
    /// read: a <see cref="CacheBackend"/> treats them as misses and deletes them when it meets them (or in
    /// <see cref="CacheBackend.DeleteExpiredResponsesAsync"/>). Nothing is deleted by the migration itself.
    /// </para>
    /// </remarks>
    private void Migrate(PooledConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction)
    {
        var columns = ReadColumns(connection, transaction);
        var table = SqliteStatements.Quote(TableName);
        if (columns.Count == 0)
        {
            connection.ExecuteScalar(_sql.CreateTable, transaction);
        }
        else if (columns.SetEquals(CurrentColumns))
        {
            // The current layout without its version row (the schema table was deleted): only the row is missing.
        }
        else if (columns.SetEquals(Version1Columns))
        {
            connection.ExecuteScalar($"ALTER TABLE {table} ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0", transaction);
            connection.ExecuteScalar($"UPDATE {table} SET last_used = created_at", transaction);
        }
        else if (columns.SetEquals(LegacyColumns))
        {
            var legacy = SqliteStatements.Quote(TableName + "_cachedhttp_legacy");
            connection.ExecuteScalar($"ALTER TABLE {table} RENAME TO {legacy}", transaction);
            connection.ExecuteScalar(_sql.CreateTable, transaction);
            connection.ExecuteScalar(
                $"""
                INSERT OR IGNORE INTO {table} (key, value, delete_after, created_at, size, last_used)
                SELECT CAST(key AS TEXT), CAST(value AS BLOB), NULL, $now, length(CAST(value AS BLOB)), $now
                FROM {legacy} WHERE key IS NOT NULL AND value IS NOT NULL
                """,
                transaction,
                ("$now", Now()));
            connection.ExecuteScalar($"DROP TABLE {legacy}", transaction);
        }
        else
        {
            throw new InvalidOperationException(
                $"The SQLite cache file '{Path}' has a table '{TableName}' with columns ({string.Join(", ", columns)}) that is not a "
                + "CachedHttp cache table; it was left unchanged. Use another table name or another file.");
        }
    }

    private HashSet<string> ReadColumns(PooledConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction)
    {
        using var command = connection.Connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT name FROM pragma_table_info($table)";
        command.Parameters.AddWithValue("$table", TableName);
        using var reader = command.ExecuteReader();
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }
}
