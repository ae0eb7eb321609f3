using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using CachedHttp.Sqlite.Internal;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Sqlite;

/// <summary>Last use, size bounds and inspection.</summary>
public partial class SqliteCache
{
    /// <summary>How long a read's last use may wait in memory before it is written to the file.</summary>
    internal static readonly TimeSpan TouchFlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>How many keys read since the last flush make a flush start at once.</summary>
    internal const int TouchFlushThreshold = 1024;

    /// <summary>How many rows a trim deletes per transaction, so that other writers (of any process) wait for it briefly.</summary>
    internal const int TrimChunkSize = SqliteStatements.DeleteBatchSize;

    /// <summary>How long this process's running totals are trusted, while it writes, before a trim counts the table again.</summary>
    private static readonly TimeSpan RecountInterval = TimeSpan.FromSeconds(10);

    // Keys read since the last flush, with the time of their last read (Unix milliseconds).
    private readonly ConcurrentDictionary<string, long> _touched = new(StringComparer.Ordinal);
    private readonly object _flushGate = new();
    private ITimer? _flushTimer;
    private int _flushArmed;
    private int _touchedSinceFlush;

    // The rows and bytes of the table as this process knows them: the last count plus this process's writes since
    // (a replaced row counts as a new one, so they are too high rather than too low, which only brings a trim early).
    private long _count;
    private long _bytes;
    private int _totalsKnown;
    private long _countedAt;

    /// <inheritdoc />
    /// <value>
    /// Always <see langword="true"/>: least-recently-used eviction by the indexed <c>last_used</c> column, in the
    /// background, across every process that shares the file.
    /// </value>
    public override bool SupportsSizeLimits => true;

    /// <summary>Gets the name of the index on the last-use column, used by trims.</summary>
    internal string LastUsedIndexName => _sql.LastUsedIndexName;

    /// <inheritdoc />
    /// <remarks><c>SELECT SUM(size)</c> over every row of the table, live or not yet removed, as the size bounds count.</remarks>
    public override ValueTask<long> GetTotalBytesAsync(CancellationToken cancellationToken = default)
        => Run(0, static (self, _) =>
        {
            using var lease = self.Rent();
            return Convert.ToInt64(lease.Connection.Command(self._sql.TotalBytes).ExecuteScalar(), CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One query over the <c>size</c>, <c>delete_after</c> and <c>last_used</c> columns; the first
    /// <paramref name="headBytes"/> bytes of each value are read with incremental blob I/O, which reads only the pages
    /// that hold them, never the rest of the value. Reads of this process not yet written to the file count in
    /// <see cref="StoredEntryInfo.LastUsedAt"/>. Like <see cref="GetKeysAsync"/>, the enumeration holds a read
    /// transaction until it ends. Enumerating does not count as a use.
    /// </remarks>
    public override async IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        cancellationToken.ThrowIfCancellationRequested();
        using var lease = Rent();
        var command = lease.Connection.Command(_sql.Infos);
        command.Parameters[0].Value = Now();
        using var reader = command.ExecuteReader();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = reader.GetString(1);
            var size = reader.GetInt64(2);
            var lastUsed = reader.GetInt64(4);
            if (_touched.TryGetValue(key, out var pending) && pending > lastUsed)
            {
                lastUsed = pending;
            }

            var head = Array.Empty<byte>();
            if (headBytes > 0 && size > 0)
            {
                head = new byte[(int)Math.Min(headBytes, size)];
                using var blob = new SqliteBlob(lease.Connection.Connection, TableName, "value", reader.GetInt64(0), readOnly: true);
                head = head[..blob.Read(head)];
            }

            yield return new StoredEntryInfo(key, size)
            {
                LastUsedAt = DateTimeOffset.FromUnixTimeMilliseconds(lastUsed),
                DeleteAfter = reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                Head = head,
            };
        }
    }

    /// <summary>Writes the last uses of reads made so far to the file now (they are otherwise written within about a second).</summary>
    internal void FlushTouches()
    {
        if (_touched.IsEmpty)
        {
            return;
        }

        lock (_flushGate)
        {
            var batch = _touched.ToArray();
            if (batch.Length == 0)
            {
                return;
            }

            using (var lease = Rent())
            {
                var connection = lease.Connection;
                var command = connection.Command(_sql.Touch);
                using var transaction = connection.Connection.BeginTransaction(deferred: false);
                command.Transaction = transaction;
                try
                {
                    foreach (var (key, used) in batch)
                    {
                        command.Parameters[0].Value = key;
                        command.Parameters[1].Value = used;
                        command.ExecuteNonQuery();
                    }

                    transaction.Commit();
                }
                finally
                {
                    command.Transaction = null;
                }
            }

            foreach (var pair in batch)
            {
                // Only if not read again meanwhile: that later read waits for the next flush.
                if (_touched.TryRemove(pair))
                {
                    Interlocked.Decrement(ref _touchedSinceFlush);
                }
            }
        }
    }

    /// <inheritdoc />
    protected override void OnSizeLimitsChanged(StorageSizeLimits? limits) => RequestTrim();

    /// <inheritdoc />
    /// <remarks>
    /// Writes the pending last uses, deletes the rows past their delete-after time (through their index), counts the
    /// rows and bytes (<c>SELECT COUNT(*), SUM(size)</c>) and, while over a bound, deletes the least recently used
    /// rows (through the <c>last_used</c> index) in transactions of up to 500 rows, until the table is a little under
    /// its bounds. Every process sharing the file may trim; each trim works from the file, not from this process's view.
    /// </remarks>
    protected override ValueTask TrimAsync(StorageSizeLimits limits, CancellationToken cancellationToken)
    {
        FlushTouches();
        OnEvicted("expired", DeleteExpiredRows());
        var (count, bytes) = CountRows();
        if (!limits.IsExceededBy(count, bytes))
        {
            return ValueTask.CompletedTask;
        }

        long evicted = 0;
        while (!limits.IsTrimmedTo(count, bytes) && !cancellationToken.IsCancellationRequested)
        {
            var (rows, freed) = DeleteLeastRecentlyUsed(count - (limits.TrimToEntries ?? count), bytes - (limits.TrimToBytes ?? bytes));
            if (rows == 0)
            {
                break;
            }

            evicted += rows;
            count -= rows;
            bytes -= freed;
            Interlocked.Add(ref _count, -rows);
            Interlocked.Add(ref _bytes, -freed);
        }

        OnEvicted("size", evicted);
        return ValueTask.CompletedTask;
    }

    /// <summary>Notes a read of <paramref name="key"/>: kept in memory, written to the file in the background.</summary>
    private void Touched(string key)
    {
        var now = Now();
        if (_touched.TryAdd(key, now))
        {
            if (Interlocked.Increment(ref _touchedSinceFlush) >= TouchFlushThreshold)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static self => self.FlushTouchesQuietly(), this, preferLocal: false);
            }
        }
        else
        {
            _touched[key] = now;
        }

        if (Volatile.Read(ref _flushArmed) == 0 && Interlocked.CompareExchange(ref _flushArmed, 1, 0) == 0)
        {
            _flushTimer?.Change(TouchFlushInterval, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Counts a write of this process in the running totals, and schedules a trim when they say so.</summary>
    private void Wrote(long size)
    {
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _bytes, size);
        if (SizeLimits is { } limits
            && (Volatile.Read(ref _totalsKnown) == 0
                || limits.IsExceededBy(Volatile.Read(ref _count), Volatile.Read(ref _bytes))
                || TimeProvider.GetElapsedTime(Volatile.Read(ref _countedAt)) > RecountInterval))
        {
            RequestTrim();
        }
    }

    /// <summary>Counts rows this process deleted (their bytes are not known without reading them: left for the next count).</summary>
    private void Deleted(long rows) => Interlocked.Add(ref _count, -rows);

    private void StartTouchTimer()
        => _flushTimer = TimeProvider.CreateTimer(static state => ((SqliteCache)state!).OnFlushTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    private void OnFlushTimer()
    {
        Volatile.Write(ref _flushArmed, 0);
        FlushTouchesQuietly();
    }

    /// <summary>Flushes from the background; a failure (the file busy past the timeout, the storage disposed) is counted, and the touches wait for the next flush.</summary>
    private void FlushTouchesQuietly()
    {
        try
        {
            FlushTouches();
        }
        catch (ObjectDisposedException)
        {
            // Disposed: the last flush ran in Dispose.
        }
        catch (Exception)
        {
            OnBackgroundFailure("touch");
        }
    }

    private int DeleteExpiredRows()
    {
        using var lease = Rent();
        var command = lease.Connection.Command(_sql.DeleteExpired);
        command.Parameters[0].Value = Now();
        var deleted = command.ExecuteNonQuery();
        Deleted(deleted);
        return deleted;
    }

    /// <summary>Counts every row and byte of the table, and moves this process's running totals to them (writes made meanwhile still count).</summary>
    private (long Count, long Bytes) CountRows()
    {
        var countBefore = Volatile.Read(ref _count);
        var bytesBefore = Volatile.Read(ref _bytes);
        long count, bytes;
        using (var lease = Rent())
        {
            using var reader = lease.Connection.Command(_sql.Totals).ExecuteReader();
            reader.Read();
            count = reader.GetInt64(0);
            bytes = reader.GetInt64(1);
        }

        Interlocked.Add(ref _count, count - countBefore);
        Interlocked.Add(ref _bytes, bytes - bytesBefore);
        Volatile.Write(ref _countedAt, TimeProvider.GetTimestamp());
        Volatile.Write(ref _totalsKnown, 1);
        return (count, bytes);
    }

    /// <summary>
    /// In one write transaction, reads the least recently used rows and deletes as many as free
    /// <paramref name="rows"/> rows and <paramref name="bytes"/> bytes (at most <see cref="TrimChunkSize"/>).
    /// </summary>
    /// <returns>The rows deleted and their bytes.</returns>
    private (long Rows, long Bytes) DeleteLeastRecentlyUsed(long rows, long bytes)
    {
        using var lease = Rent();
        var connection = lease.Connection;
        using var transaction = connection.Connection.BeginTransaction(deferred: false);
        var select = connection.Command(_sql.LeastRecentlyUsed);
        var delete = connection.Command(_sql.DeleteBatch);
        select.Transaction = transaction;
        delete.Transaction = transaction;
        try
        {
            var keys = new List<string>(TrimChunkSize);
            long freed = 0;
            select.Parameters[0].Value = (long)TrimChunkSize;
            using (var reader = select.ExecuteReader())
            {
                while ((keys.Count < rows || freed < bytes) && reader.Read())
                {
                    var key = reader.GetString(0);
                    if (!_touched.ContainsKey(key))
                    {
                        // Not read by this process since the trim wrote its last uses.
                        keys.Add(key);
                        freed += reader.GetInt64(1);
                    }
                }
            }

            if (keys.Count == 0)
            {
                return (0, 0);
            }

            // The statement takes a fixed number of keys: the last one is repeated to fill it (IN ignores repeats).
            for (var i = 0; i < SqliteStatements.DeleteBatchSize; i++)
            {
                delete.Parameters[i].Value = keys[Math.Min(i, keys.Count - 1)];
            }

            var deleted = delete.ExecuteNonQuery();
            transaction.Commit();
            return (deleted, freed);
        }
        finally
        {
            select.Transaction = null;
            delete.Transaction = null;
        }
    }

    /// <summary>Gets SQLite's query plan of the statement that picks the rows a trim deletes (for tests).</summary>
    internal IReadOnlyList<string> ExplainLeastRecentlyUsed()
    {
        using var lease = Rent();
        using var command = lease.Connection.Connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + _sql.LeastRecentlyUsed.Sql;
        command.Parameters.AddWithValue("$limit", 10L);
        using var reader = command.ExecuteReader();
        var plan = new List<string>();
        while (reader.Read())
        {
            plan.Add(reader.GetString(reader.GetOrdinal("detail")));
        }

        return plan;
    }
}
