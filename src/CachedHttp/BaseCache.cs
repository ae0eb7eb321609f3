using System.Runtime.CompilerServices;

namespace CachedHttp;

/// <summary>
/// Low-level key → bytes storage beneath a <see cref="CacheBackend"/>. Subclassed once per storage engine
/// (memory, files, SQLite, Redis, MongoDB, DynamoDB). Knows nothing about HTTP.
/// </summary>
/// <remarks>
/// <para>Implementations must be safe for concurrent use by many callers.</para>
/// <para>
/// A write may carry a <em>delete-after</em> time: once it has passed, the entry must no longer be returned by
/// <see cref="ReadAsync"/>, <see cref="ContainsAsync"/> or the enumerations, and the storage may remove it (a native
/// TTL where the engine has one). Values are opaque: a storage never inspects or changes them.
/// </para>
/// <para>
/// Disposing a storage releases what it created (connections, files handles); clients passed in by the caller are
/// never disposed.
/// </para>
/// </remarks>
public abstract class BaseCache : IDisposable, IAsyncDisposable
{
    // Cancelled on dispose: stops background trims. Never disposed itself (it has no timer or registrations to free),
    // so that a trim still running may read its token safely.
    private readonly CancellationTokenSource _lifetime = new();
    private StorageSizeLimits? _sizeLimits;
    private Task _trimTask = Task.CompletedTask;
    private int _trimRunning;
    private int _trimAgain;

    /// <summary>Initializes a new storage.</summary>
    /// <param name="timeProvider">The clock used to honour delete-after times; <see cref="TimeProvider.System"/> when null.</param>
    protected BaseCache(TimeProvider? timeProvider = null)
    {
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the clock used to honour delete-after times.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Gets a short name of the storage engine, used in logs and metrics (for example <c>memory</c>).</summary>
    public virtual string Name => GetType().Name;

    /// <summary>
    /// Gets a value indicating whether <see cref="ReadAsync"/> returns the very array that was stored (not a copy) and
    /// that array is never changed afterwards, so that a decoded form of it can be reused.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    protected internal virtual bool ReturnsSharedValues => false;

    /// <summary>Reads the value stored under <paramref name="key"/>.</summary>
    /// <returns>The stored bytes, or <see langword="null"/> when the key is missing or past its delete-after time.</returns>
    public abstract ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any previous value.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The bytes to store. The storage copies them if it keeps them beyond the call.</param>
    /// <param name="deleteAfter">When the entry may be removed; <see langword="null"/> to keep it until deleted.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    public abstract ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes the value stored under <paramref name="key"/>.</summary>
    /// <returns><see langword="true"/> if a value was deleted.</returns>
    public abstract ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes the values stored under <paramref name="keys"/>; missing keys are ignored.</summary>
    /// <returns>The number of values deleted (storages that cannot tell return the number of keys asked for).</returns>
    /// <remarks>The default deletes one key at a time; storages override it with a batched operation.</remarks>
    public virtual async ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var deleted = 0;
        foreach (var key in keys)
        {
            if (await DeleteAsync(key, cancellationToken).ConfigureAwait(false))
            {
                deleted++;
            }
        }

        return deleted;
    }

    /// <summary>Tells whether a live value is stored under <paramref name="key"/>.</summary>
    public virtual async ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
        => await ReadAsync(key, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Enumerates the keys of live values, in no particular order.</summary>
    public abstract IAsyncEnumerable<string> GetKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Enumerates the live key/value pairs, in no particular order.</summary>
    /// <remarks>The default reads each key listed by <see cref="GetKeysAsync"/>; storages override it with a bulk read.</remarks>
    public virtual async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var key in GetKeysAsync(cancellationToken).ConfigureAwait(false))
        {
            var value = await ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (value is not null)
            {
                yield return new KeyValuePair<string, byte[]>(key, value);
            }
        }
    }

    /// <summary>
    /// Gets a value indicating whether this storage moves large values piece by piece: <see cref="OpenWriteAsync"/> writes
    /// a value as it is produced, <see cref="ReadUpToAsync"/> reads only the head of a large value and
    /// <see cref="OpenReadAsync"/> reads a value as it is consumed, none of them holding the value whole in memory.
    /// </summary>
    /// <value>The default value is <see langword="false"/>; the file (binary format), SQLite and GridFS storages return <see langword="true"/>.</value>
    /// <remarks>A <see cref="CacheBackend"/> streams response bodies larger than <see cref="CacheOptions.StreamingThreshold"/> to and from such a storage.</remarks>
    public virtual bool SupportsStreaming => false;

    /// <summary>Opens a stream whose bytes become the value of <paramref name="key"/> once it is committed (see <see cref="StorageWriteStream"/>).</summary>
    /// <param name="key">The key.</param>
    /// <param name="deleteAfter">When the entry may be removed; <see langword="null"/> to keep it until deleted.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The stream; the caller commits and disposes it.</returns>
    /// <exception cref="NotSupportedException">The storage cannot stream (<see cref="SupportsStreaming"/> is false).</exception>
    public virtual ValueTask<StorageWriteStream> OpenWriteAsync(string key, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
        => throw new NotSupportedException($"The {Name} storage cannot write a value from a stream.");

    /// <summary>Opens a read-only stream over the value stored under <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The stream (the caller disposes it), or <see langword="null"/> when the key is missing or past its delete-after time.</returns>
    /// <remarks>The default reads the value whole with <see cref="ReadAsync"/>; storages that stream override it.</remarks>
    public virtual async ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        => await ReadAsync(key, cancellationToken).ConfigureAwait(false) is { } value ? new MemoryStream(value, writable: false) : null;

    /// <summary>
    /// Reads the value stored under <paramref name="key"/> whole when it has at most <paramref name="maxBytes"/> bytes,
    /// and otherwise its first <paramref name="headBytes"/> bytes (a storage that cannot read part of a value returns
    /// it whole).
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="maxBytes">The largest value read whole.</param>
    /// <param name="headBytes">How many leading bytes of a larger value to read.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>
    /// The value's size and bytes (<see cref="StoredEntryInfo.Head"/>: the whole value, or its head when
    /// <see cref="StoredEntryInfo.Size"/> is larger), or <see langword="null"/> when the key is missing or past its
    /// delete-after time.
    /// </returns>
    /// <remarks>The default reads the value whole with <see cref="ReadAsync"/>; storages that stream override it.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> or <paramref name="headBytes"/> is negative.</exception>
    public virtual async ValueTask<StoredEntryInfo?> ReadUpToAsync(string key, int maxBytes, int headBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        return await ReadAsync(key, cancellationToken).ConfigureAwait(false) is { } value
            ? new StoredEntryInfo(key, value.Length) { Head = value }
            : null;
    }

    /// <summary>Enumerates the live values, in no particular order.</summary>
    public virtual async IAsyncEnumerable<byte[]> GetValuesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var entry in GetEntriesAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return entry.Value;
        }
    }

    /// <summary>Counts the live values.</summary>
    public virtual async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        long count = 0;
        await foreach (var unused in GetKeysAsync(cancellationToken).ConfigureAwait(false))
        {
            count++;
        }

        return count;
    }

    /// <summary>Deletes every value of this storage (and nothing else).</summary>
    public abstract ValueTask ClearAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the values whose delete-after time has passed.</summary>
    /// <returns>The number of values removed (0 when the storage expires values natively in the background).</returns>
    /// <remarks>The default does nothing: storages with native expiry need no sweep.</remarks>
    public virtual ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(0);

    /// <summary>
    /// Enumerates what is known about each live value without reading it whole: its size, last use and delete-after
    /// time, and its first <paramref name="headBytes"/> bytes (for the metadata at the front of an entry).
    /// </summary>
    /// <param name="headBytes">How many leading bytes of each value to return in <see cref="StoredEntryInfo.Head"/>; 0 for none.</param>
    /// <param name="cancellationToken">A token to cancel the enumeration.</param>
    /// <remarks>
    /// The default reads every value through <see cref="GetEntriesAsync"/> and knows no last use; storages that can
    /// read a prefix (SQLite, files, Redis) or track use (memory, files, SQLite) override it.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="headBytes"/> is negative.</exception>
    public virtual async IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        await foreach (var entry in GetEntriesAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new StoredEntryInfo(entry.Key, entry.Value.Length)
            {
                Head = entry.Value.AsMemory(0, Math.Min(headBytes, entry.Value.Length)),
            };
        }
    }

    /// <summary>Sums the sizes, in bytes, of the values this storage holds: the measure <see cref="StorageSizeLimits.MaxBytes"/> bounds.</summary>
    /// <remarks>
    /// The default enumerates <see cref="GetEntryInfosAsync"/> (live values only); storages that keep a running total
    /// override it, and theirs may include values past their delete-after time that are not removed yet, and the
    /// storage's own overhead per value (the file storage counts whole files, headers included).
    /// </remarks>
    public virtual async ValueTask<long> GetTotalBytesAsync(CancellationToken cancellationToken = default)
    {
        long total = 0;
        await foreach (var info in GetEntryInfosAsync(0, cancellationToken).ConfigureAwait(false))
        {
            total += info.Size;
        }

        return total;
    }

    /// <summary>Gets the size bounds this storage enforces, or <see langword="null"/> when it is unbounded.</summary>
    public StorageSizeLimits? SizeLimits
    {
        get => Volatile.Read(ref _sizeLimits);
        private set => Volatile.Write(ref _sizeLimits, value);
    }

    /// <summary>Gets a value indicating whether this storage can enforce <see cref="StorageSizeLimits"/> (by evicting least-recently-used values).</summary>
    /// <value>The default value is <see langword="false"/>; the memory, file and SQLite storages return <see langword="true"/>.</value>
    public virtual bool SupportsSizeLimits => false;

    /// <summary>Sets the size bounds this storage enforces from now on, by evicting its least-recently-used values.</summary>
    /// <param name="limits">The bounds; <see langword="null"/> for none.</param>
    /// <exception cref="NotSupportedException">The storage cannot enforce bounds (<see cref="SupportsSizeLimits"/> is false).</exception>
    /// <remarks>
    /// Eviction never runs on the caller's path: a write that goes over a bound schedules a trim in the background,
    /// so a storage may hold a little more than its bounds for a moment.
    /// </remarks>
    public void SetSizeLimits(StorageSizeLimits? limits)
    {
        if (limits is not null && !SupportsSizeLimits)
        {
            throw new NotSupportedException($"The {Name} storage cannot enforce MaxEntries or MaxBytes; it relies on its own eviction (see the backends documentation).");
        }

        SizeLimits = limits;
        OnSizeLimitsChanged(limits);
    }

    /// <summary>Called when <see cref="SetSizeLimits"/> changes the bounds; a bounded storage trims to them (in the background).</summary>
    /// <param name="limits">The new bounds, or <see langword="null"/>.</param>
    protected virtual void OnSizeLimitsChanged(StorageSizeLimits? limits)
    {
    }

    /// <summary>
    /// Schedules one trim in the background (<see cref="TrimAsync"/>), unless one is running: then that one runs once
    /// more when it ends. Returns at once; the caller never waits for eviction.
    /// </summary>
    /// <remarks>
    /// Call it after a write that may have taken the storage over <see cref="SizeLimits"/>. Does nothing when the storage
    /// is unbounded or disposed. A trim that throws is counted in <c>cachedhttp.storage.errors</c> (operation
    /// <c>trim</c>) and the next request tries again.
    /// </remarks>
    protected void RequestTrim()
    {
        if (SizeLimits is null || _lifetime.IsCancellationRequested)
        {
            return;
        }

        Volatile.Write(ref _trimAgain, 1);
        if (Interlocked.CompareExchange(ref _trimRunning, 1, 0) == 0)
        {
            Volatile.Write(ref _trimTask, Task.Run(RunTrimsAsync));
        }
    }

    /// <summary>
    /// Brings this storage under <paramref name="limits"/> by removing its least-recently-used values, each counted with
    /// <see cref="OnEvicted"/>. Runs in the background after <see cref="RequestTrim"/>, never twice at once.
    /// </summary>
    /// <param name="limits">The bounds to enforce.</param>
    /// <param name="cancellationToken">Cancelled when the storage is disposed.</param>
    /// <returns>A task that completes when the trim is done.</returns>
    /// <remarks>
    /// A trim goes a little below each bound (<see cref="StorageSizeLimits.TrimToEntries"/>,
    /// <see cref="StorageSizeLimits.TrimToBytes"/>), so that a steady stream of writes does not trim after every
    /// write. The default does nothing.
    /// </remarks>
    protected virtual ValueTask TrimAsync(StorageSizeLimits limits, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Gets or sets a hook awaited at the start of every background trim (tests hold trims with it).</summary>
    internal Func<CancellationToken, Task>? BeforeTrim { get; set; }

    /// <summary>Waits until no trim is running or scheduled (for tests and orderly shutdown).</summary>
    internal async Task WhenTrimmedAsync()
    {
        while (Volatile.Read(ref _trimRunning) != 0)
        {
            var running = Volatile.Read(ref _trimTask);
            if (running.IsCompleted)
            {
                await Task.Yield();
            }
            else
            {
                await running.ConfigureAwait(false);
            }
        }
    }

    private async Task RunTrimsAsync()
    {
        var cancellationToken = _lifetime.Token;
        while (true)
        {
            Volatile.Write(ref _trimAgain, 0);
            if (SizeLimits is { } limits && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    if (BeforeTrim is { } hook)
                    {
                        await hook(cancellationToken).ConfigureAwait(false);
                    }

                    await TrimAsync(limits, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception) when (_lifetime.IsCancellationRequested)
                {
                    // Disposed while trimming: the storage is going away.
                }
                catch (Exception)
                {
                    OnBackgroundFailure("trim");
                }
            }

            Volatile.Write(ref _trimRunning, 0);

            // A request that came while this trim ran gets one more pass (unless another runner took over).
            if (Volatile.Read(ref _trimAgain) == 0 || _lifetime.IsCancellationRequested || Interlocked.CompareExchange(ref _trimRunning, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Records values this storage removed on its own in the <c>cachedhttp.evictions</c> metric.</summary>
    /// <param name="reason">A short fixed word: <c>size</c> for size bounds, <c>expired</c> for delete-after times.</param>
    /// <param name="count">How many values.</param>
    protected void OnEvicted(string reason, long count)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        Internal.CacheMetrics.Evicted(Name, reason, count);
    }

    /// <summary>
    /// Records a failure of this storage's own background work (a trim, a flush of last-use times) in the
    /// <c>cachedhttp.storage.errors</c> metric: nobody awaits that work, so nobody else can report it.
    /// </summary>
    /// <param name="operation">A short fixed word naming the work, for example <c>trim</c> (the <c>operation</c> tag).</param>
    protected void OnBackgroundFailure(string operation)
    {
        ArgumentException.ThrowIfNullOrEmpty(operation);
        Internal.CacheMetrics.BackgroundFailure(Name, operation);
    }

    /// <summary>Tells whether an entry with the given delete-after time is gone at this storage's current time.</summary>
    protected bool IsPastDeleteAfter(DateTimeOffset? deleteAfter)
        => deleteAfter is { } at && at <= TimeProvider.GetUtcNow();

    /// <inheritdoc />
    /// <remarks>Stops background trims (a running one is abandoned at its next step) before releasing the storage.</remarks>
    public void Dispose()
    {
        _lifetime.Cancel();
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    /// <remarks>Stops background trims and waits for a running one to end before releasing the storage.</remarks>
    public async ValueTask DisposeAsync()
    {
        await _lifetime.CancelAsync().ConfigureAwait(false);
        await WhenTrimmedAsync().ConfigureAwait(false);
        await DisposeAsyncCore().ConfigureAwait(false);
        Dispose(disposing: false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what this storage created.</summary>
    /// <param name="disposing"><see langword="true"/> when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Releases what this storage created, asynchronously.</summary>
    protected virtual ValueTask DisposeAsyncCore()
    {
        Dispose(disposing: true);
        return ValueTask.CompletedTask;
    }
}
