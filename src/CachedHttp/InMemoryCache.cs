using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace CachedHttp;

/// <summary>
/// Storage in process memory: a concurrent dictionary of immutable byte arrays.
/// </summary>
/// <remarks>
/// Thread-safe. Every reader gets the stored array, which nobody writes to after it is stored (a write stores a copy),
/// so callers can never change what another caller reads. Expired values are removed when read and by
/// <see cref="DeleteExpiredAsync"/>.
/// </remarks>
public class InMemoryCache : BaseCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Initializes a new, empty in-memory storage.</summary>
    /// <param name="timeProvider">The clock used to honour delete-after times.</param>
    public InMemoryCache(TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
    }

    /// <inheritdoc />
    public override string Name => "memory";

    /// <inheritdoc />
    /// <remarks>A write stores a copy that nobody changes afterwards, and a read returns it as is.</remarks>
    protected internal override bool ReturnsSharedValues => true;

    /// <inheritdoc />
    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.TryGetValue(key, out var entry))
        {
            if (!IsPastDeleteAfter(entry.DeleteAfter))
            {
                return ValueTask.FromResult<byte[]?>(entry.Value);
            }

            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }

        return ValueTask.FromResult<byte[]?>(null);
    }

    /// <inheritdoc />
    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        _entries[key] = new Entry(value.ToArray(), deleteAfter);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ValueTask.FromResult(_entries.TryRemove(key, out _));
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
#pragma warning restore CS1998

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
        _entries.Clear();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
    {
        var removed = 0;
        foreach (var pair in _entries)
        {
            if (IsPastDeleteAfter(pair.Value.DeleteAfter) && _entries.TryRemove(pair))
            {
                removed++;
            }
        }

        return ValueTask.FromResult(removed);
    }

    private sealed record Entry(byte[] Value, DateTimeOffset? DeleteAfter);
}
