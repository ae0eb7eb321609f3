using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace CachedHttp;

/// <summary>
/// Storage in process memory: a concurrent dictionary of immutable byte arrays.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe. Every reader gets the stored array, which nobody writes to after it is stored (a write stores a copy),
/// so callers can never change what another caller reads. Expired values are removed when read and by
/// <see cref="DeleteExpiredAsync"/>.
/// </para>
/// <para>
/// With size bounds (<see cref="BaseCache.SetSizeLimits"/>), eviction is exact least-recently-used: every read and write
/// stamps its value from one process-wide counter (a single atomic increment, no lock), and a write that takes the
/// storage over a bound schedules one background trim, which removes expired values and then the values with the
/// oldest stamps until the storage is a little under its bounds. The count and bytes are running totals, so the
/// check after a write is two comparisons. Until the trim has run, the storage may hold a little more than its bounds.
/// </para>
/// </remarks>
public class InMemoryCache : BaseCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // Process-wide use order: every read or write of a value takes the next stamp.
    private static long _clock;

    private long _count;
    private long _bytes;

    /// <summary>Initializes a new, empty in-memory storage.</summary>
    /// <param name="timeProvider">The clock used to honour delete-after times.</param>
    public InMemoryCache(TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
    }

    /// <inheritdoc />
    public override string Name => "memory";

    /// <inheritdoc />
    /// <value>Always <see langword="true"/>: exact least-recently-used eviction in the background.</value>
    public override bool SupportsSizeLimits => true;

    /// <inheritdoc />
    /// <remarks>A write stores a copy that nobody changes afterwards, and a read returns it as is.</remarks>
    protected internal override bool ReturnsSharedValues => true;

    /// <inheritdoc />
    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.TryGetValue(key, out var entry))
        {
            var now = TimeProvider.GetUtcNow();
            if (entry.DeleteAfter is not { } at || at > now)
            {
                entry.Touch(now);
                return ValueTask.FromResult<byte[]?>(entry.Value);
            }

            Remove(key, entry);
        }

        return ValueTask.FromResult<byte[]?>(null);
    }

    /// <inheritdoc />
    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var entry = new Entry(value.ToArray(), deleteAfter, TimeProvider.GetUtcNow());
        while (true)
        {
            if (_entries.TryGetValue(key, out var previous))
            {
                if (_entries.TryUpdate(key, entry, previous))
                {
                    Interlocked.Add(ref _bytes, entry.Value.Length - previous.Value.Length);
                    break;
                }
            }
            else if (_entries.TryAdd(key, entry))
            {
                Interlocked.Increment(ref _count);
                Interlocked.Add(ref _bytes, entry.Value.Length);
                break;
            }
        }

        if (SizeLimits is { } limits && limits.IsExceededBy(Volatile.Read(ref _count), Volatile.Read(ref _bytes)))
        {
            RequestTrim();
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.TryRemove(key, out var removed))
        {
            Forget(removed);
            return ValueTask.FromResult(true);
        }

        return ValueTask.FromResult(false);
    }

    /// <inheritdoc />
    public override ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ValueTask.FromResult(_entries.TryGetValue(key, out var entry) && !IsPastDeleteAfter(entry.DeleteAfter));
    }

#pragma warning disable CS1998 // Async enumerators over an in-memory snapshot complete synchronously.
    /// <inheritdoc />
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var pair in _entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsPastDeleteAfter(pair.Value.DeleteAfter))
            {
                yield return pair.Key;
            }
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var pair in _entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsPastDeleteAfter(pair.Value.DeleteAfter))
            {
                yield return new KeyValuePair<string, byte[]>(pair.Key, pair.Value.Value);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Copies nothing: <see cref="StoredEntryInfo.Head"/> is a slice of the stored array (which is never changed).
    /// Enumerating does not count as a use.
    /// </remarks>
    public override async IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        foreach (var pair in _entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = pair.Value;
            if (!IsPastDeleteAfter(entry.DeleteAfter))
            {
                yield return new StoredEntryInfo(pair.Key, entry.Value.Length)
                {
                    LastUsedAt = entry.LastUsedAt,
                    DeleteAfter = entry.DeleteAfter,
                    Head = entry.Value.AsMemory(0, Math.Min(headBytes, entry.Value.Length)),
                };
            }
        }
    }
#pragma warning restore CS1998

    /// <inheritdoc />
    /// <remarks>A running total, read in constant time; it includes expired values not removed yet.</remarks>
    public override ValueTask<long> GetTotalBytesAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Volatile.Read(ref _bytes));

    /// <inheritdoc />
    public override ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        long count = 0;
        foreach (var pair in _entries)
        {
            if (!IsPastDeleteAfter(pair.Value.DeleteAfter))
            {
                count++;
            }
        }

        return ValueTask.FromResult(count);
    }

    /// <inheritdoc />
    public override ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        // One by one, so that the running totals stay exact while other callers write.
        foreach (var pair in _entries)
        {
            Remove(pair.Key, pair.Value);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult(RemoveExpired());

    /// <inheritdoc />
    protected override void OnSizeLimitsChanged(StorageSizeLimits? limits) => RequestTrim();

    /// <inheritdoc />
    /// <remarks>
    /// Removes expired values first (counted with reason <c>expired</c>); then, if the storage is still over a bound, sorts
    /// a snapshot of the values by their use stamps and removes the oldest (reason <c>size</c>) until it is down to
    /// <see cref="StorageSizeLimits.TrimToEntries"/> and <see cref="StorageSizeLimits.TrimToBytes"/>. A value read or
    /// replaced after the snapshot was taken is skipped: it is no longer among the least recently used.
    /// </remarks>
    protected override ValueTask TrimAsync(StorageSizeLimits limits, CancellationToken cancellationToken)
    {
        OnEvicted("expired", RemoveExpired());
        if (!limits.IsExceededBy(Volatile.Read(ref _count), Volatile.Read(ref _bytes)))
        {
            return ValueTask.CompletedTask;
        }

        var snapshot = new List<(long Stamp, string Key, Entry Entry)>(_entries.Count);
        foreach (var pair in _entries)
        {
            snapshot.Add((pair.Value.Stamp, pair.Key, pair.Value));
        }

        snapshot.Sort(static (a, b) => a.Stamp.CompareTo(b.Stamp));
        long evicted = 0;
        foreach (var (stamp, key, entry) in snapshot)
        {
            if (limits.IsTrimmedTo(Volatile.Read(ref _count), Volatile.Read(ref _bytes)) || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (entry.Stamp == stamp && Remove(key, entry))
            {
                evicted++;
            }
        }

        OnEvicted("size", evicted);
        return ValueTask.CompletedTask;
    }

    private int RemoveExpired()
    {
        var removed = 0;
        foreach (var pair in _entries)
        {
            if (IsPastDeleteAfter(pair.Value.DeleteAfter) && Remove(pair.Key, pair.Value))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Removes <paramref name="key"/> only if it still holds <paramref name="entry"/>, and updates the totals.</summary>
    private bool Remove(string key, Entry entry)
    {
        if (_entries.TryRemove(new KeyValuePair<string, Entry>(key, entry)))
        {
            Forget(entry);
            return true;
        }

        return false;
    }

    private void Forget(Entry removed)
    {
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -removed.Value.Length);
    }

    /// <summary>A stored value. Compared by reference, so that a removal never takes a newer value of the same key.</summary>
    private sealed class Entry(byte[] value, DateTimeOffset? deleteAfter, DateTimeOffset now)
    {
        private long _stamp = Interlocked.Increment(ref _clock);
        private long _lastUsedTicks = now.UtcTicks;

        public byte[] Value { get; } = value;

        public DateTimeOffset? DeleteAfter { get; } = deleteAfter;

        public long Stamp => Volatile.Read(ref _stamp);

        public DateTimeOffset LastUsedAt => new(Volatile.Read(ref _lastUsedTicks), TimeSpan.Zero);

        /// <summary>Marks a use: two plain stores, no lock (the stamp is taken with one atomic increment).</summary>
        public void Touch(DateTimeOffset now)
        {
            Volatile.Write(ref _stamp, Interlocked.Increment(ref _clock));
            Volatile.Write(ref _lastUsedTicks, now.UtcTicks);
        }
    }
}
