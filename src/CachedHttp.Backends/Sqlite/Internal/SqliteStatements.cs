namespace CachedHttp.Sqlite.Internal;

/// <summary>The statements of one cache table. Times are Unix milliseconds; a row is live while <c>delete_after</c> is null or later than <c>$now</c>.</summary>
internal sealed class SqliteStatements
{
    /// <summary>Keys per <c>DELETE … IN (…)</c>, well under SQLite's limit on bound variables (32766; 999 before 3.32).</summary>
    public const int DeleteBatchSize = 500;

    public SqliteStatements(string table)
    {
        var t = Quote(table);
        const string Live = "(delete_after IS NULL OR delete_after > $now)";
        const string Upsert = "ON CONFLICT (key) DO UPDATE SET value = excluded.value, delete_after = excluded.delete_after, "
            + "created_at = excluded.created_at, size = excluded.size, last_used = excluded.last_used";

        Read = new($"SELECT value FROM {t} WHERE key = $key AND {Live}", "$key", "$now");
        Contains = new($"SELECT 1 FROM {t} WHERE key = $key AND {Live}", "$key", "$now");
        Write = new(
            $"INSERT INTO {t} (key, value, delete_after, created_at, size, last_used) VALUES ($key, $value, $delete_after, $now, $size, $now) {Upsert}",
            "$key", "$value", "$delete_after", "$now", "$size");
        WriteZeroBlob = new(
            $"INSERT INTO {t} (key, value, delete_after, created_at, size, last_used) VALUES ($key, zeroblob($size), $delete_after, $now, $size, $now) {Upsert} RETURNING rowid",
            "$key", "$delete_after", "$now", "$size");
        SelectRowId = new($"SELECT rowid FROM {t} WHERE key = $key AND {Live}", "$key", "$now");
        Delete = new($"DELETE FROM {t} WHERE key = $key", "$key");
        var batchParameters = Enumerable.Range(0, DeleteBatchSize).Select(i => "$k" + i).ToArray();
        DeleteBatch = new($"DELETE FROM {t} WHERE key IN ({string.Join(", ", batchParameters)})", batchParameters);
        DeleteExpired = new($"DELETE FROM {t} WHERE delete_after <= $now", "$now");
        Count = new($"SELECT COUNT(*) FROM {t} WHERE {Live}", "$now");
        Keys = new($"SELECT key FROM {t} WHERE {Live}", "$now");
        Entries = new($"SELECT key, value FROM {t} WHERE {Live}", "$now");
        Clear = new($"DELETE FROM {t}");
        Touch = new($"UPDATE {t} SET last_used = $used WHERE key = $key AND last_used < $used", "$key", "$used");
        Totals = new($"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM {t}");
        TotalBytes = new($"SELECT COALESCE(SUM(size), 0) FROM {t}");
        LeastRecentlyUsed = new($"SELECT key, size FROM {t} ORDER BY last_used, rowid LIMIT $limit", "$limit");
        Infos = new($"SELECT rowid, key, size, delete_after, last_used FROM {t} WHERE {Live}", "$now");
        CreateTable = $"""
            CREATE TABLE {t} (
                key TEXT NOT NULL PRIMARY KEY,
                value BLOB NOT NULL,
                delete_after INTEGER NULL,
                created_at INTEGER NOT NULL,
                size INTEGER NOT NULL,
                last_used INTEGER NOT NULL DEFAULT 0);
            """;
        IndexName = table + "_delete_after";
        CreateIndex = $"CREATE INDEX IF NOT EXISTS {Quote(IndexName)} ON {t} (delete_after)";
        LastUsedIndexName = table + "_last_used";
        CreateLastUsedIndex = $"CREATE INDEX IF NOT EXISTS {Quote(LastUsedIndexName)} ON {t} (last_used)";
    }

    public Statement Read { get; }

    public Statement Contains { get; }

    public Statement Write { get; }

    public Statement WriteZeroBlob { get; }

    public Statement SelectRowId { get; }

    public Statement Delete { get; }

    public Statement DeleteBatch { get; }

    public Statement DeleteExpired { get; }

    public Statement Count { get; }

    public Statement Keys { get; }

    public Statement Entries { get; }

    public Statement Clear { get; }

    /// <summary>Moves a key's last use forward (never back: another process may have flushed a later one).</summary>
    public Statement Touch { get; }

    /// <summary>Every row, live or not: what the size bounds count.</summary>
    public Statement Totals { get; }

    public Statement TotalBytes { get; }

    /// <summary>The least recently used rows first, through the index on <c>last_used</c> (which holds the rowid).</summary>
    public Statement LeastRecentlyUsed { get; }

    public Statement Infos { get; }

    public string CreateTable { get; }

    public string IndexName { get; }

    public string CreateIndex { get; }

    public string LastUsedIndexName { get; }

    public string CreateLastUsedIndex { get; }

    /// <summary>Quotes an identifier that was validated to hold only letters, digits and underscores.</summary>
    public static string Quote(string identifier) => "\"" + identifier + "\"";
}
