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
            + "created_at = excluded.created_at, size = excluded.size";

        Read = new($"SELECT value FROM {t} WHERE key = $key AND {Live}", "$key", "$now");
        Contains = new($"SELECT 1 FROM {t} WHERE key = $key AND {Live}", "$key", "$now");
        Write = new(
            $"INSERT INTO {t} (key, value, delete_after, created_at, size) VALUES ($key, $value, $delete_after, $now, $size) {Upsert}",
            "$key", "$value", "$delete_after", "$now", "$size");
        WriteZeroBlob = new(
            $"INSERT INTO {t} (key, value, delete_after, created_at, size) VALUES ($key, zeroblob($size), $delete_after, $now, $size) {Upsert} RETURNING rowid",
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
        CreateTable = $"""
            CREATE TABLE {t} (
                key TEXT NOT NULL PRIMARY KEY,
                value BLOB NOT NULL,
                delete_after INTEGER NULL,
                created_at INTEGER NOT NULL,
                size INTEGER NOT NULL);
            """;
        IndexName = table + "_delete_after";
        CreateIndex = $"CREATE INDEX IF NOT EXISTS {Quote(IndexName)} ON {t} (delete_after)";
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

    public string CreateTable { get; }

    public string IndexName { get; }

    public string CreateIndex { get; }

    /// <summary>Quotes an identifier that was validated to hold only letters, digits and underscores.</summary>
    public static string Quote(string identifier) => "\"" + identifier + "\"";
}
