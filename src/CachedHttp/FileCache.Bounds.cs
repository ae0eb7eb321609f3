using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Enumeration;
using System.Runtime.CompilerServices;

namespace CachedHttp;

/// <summary>Size bounds, last use and inspection: what a directory listing can tell without reading the values.</summary>
public partial class FileCache
{
    /// <summary>How long running totals are trusted, while there are writes, before a trim measures the folder again (other processes may write to it).</summary>
    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(10);

    // Serializes the folder scans that set the running totals (a trim, or GetTotalBytesAsync with no totals yet).
    // Not disposed: a SemaphoreSlim whose wait handle is never asked for holds nothing to release.
    private readonly SemaphoreSlim _scanLock = new(1, 1);

    /// <summary>How long a read's last use may wait in memory before it is written to the entry file's time.</summary>
    internal static readonly TimeSpan TouchFlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>How many entries read since the last flush make a flush start at once.</summary>
    internal const int TouchFlushThreshold = 1024;

    // Entry files read since the last flush, with the time of their last read.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _touched = new(StringComparer.Ordinal);
    private readonly object _flushGate = new();
    private ITimer? _touchTimer;
    private int _touchArmed;
    private int _touchedSinceFlush;
    private int _disposed;

    // Entries and bytes in the folder as this process knows them: the last scan plus this process's writes and deletes since.
    private long _count;
    private long _bytes;
    private int _totalsKnown;
    private long _scannedAt;

    /// <inheritdoc />
    /// <value>
    /// Always <see langword="true"/>: least-recently-used eviction by each entry file's last-write time, which a write
    /// sets and a read moves forward (in the background).
    /// </value>
    public override bool SupportsSizeLimits => true;

    /// <inheritdoc />
    /// <remarks>
    /// The bytes of the entry files on disk (<c>.chc</c> files; <c>.json</c> and <c>.body</c> pairs in the readable
    /// format): values plus their small headers. Constant time once the folder has been scanned (by a trim, or by the
    /// first call, which scans it); afterwards a running total of this process's writes and deletes, which other
    /// processes' writes reach at the next scan.
    /// </remarks>
    public override async ValueTask<long> GetTotalBytesAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _totalsKnown) == 0)
        {
            await _scanLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (Volatile.Read(ref _totalsKnown) == 0)
                {
                    Scan(cancellationToken);
                }
            }
            finally
            {
                _scanLock.Release();
            }
        }

        return Math.Max(0, Volatile.Read(ref _bytes));
    }

    /// <inheritdoc />
    /// <remarks>
    /// Reads each entry's header and the first <paramref name="headBytes"/> bytes of its value, never the rest.
    /// <see cref="StoredEntryInfo.LastUsedAt"/> is the entry file's last-write time (set by a write, moved forward by a
    /// read), or this process's last read of it not yet written there; <see cref="StoredEntryInfo.Size"/> is the value's
    /// length, without the file's header. Enumerating does not count as a use.
    /// </remarks>
    public override async IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        foreach (var path in ListFiles(ReadableFormat ? JsonExtension : BinaryExtension))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = ReadableFormat
                ? await ReadReadableInfoAsync(path, headBytes, cancellationToken).ConfigureAwait(false)
                : await ReadBinaryInfoAsync(path, headBytes, cancellationToken).ConfigureAwait(false);
            if (info is not null)
            {
                yield return info;
            }
        }
    }

    /// <inheritdoc />
    protected override void OnSizeLimitsChanged(StorageSizeLimits? limits) => RequestTrim();

    /// <inheritdoc />
    /// <remarks>
    /// Writes this process's pending last uses, lists the folder once (a stat per file, no reads), sorts the entries by
    /// last-write time and deletes the oldest
    /// until the folder is a little under its bounds. An entry is deleted as <see cref="DeleteAsync"/> does (renamed away
    /// first, the <c>.json</c> before its <c>.body</c>), so a reader never sees a torn entry; one that was read or written
    /// since the listing is skipped. Temporary files and <c>.body</c> files without their <c>.json</c> are left to
    /// <see cref="DeleteExpiredAsync"/>.
    /// </remarks>
    protected override async ValueTask TrimAsync(StorageSizeLimits limits, CancellationToken cancellationToken)
    {
        FlushTouches();
        await _scanLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var entries = Scan(cancellationToken);
            if (!limits.IsExceededBy(Volatile.Read(ref _count), Volatile.Read(ref _bytes)))
            {
                return;
            }

            entries.Sort(static (a, b) => a.LastWrite != b.LastWrite ? a.LastWrite.CompareTo(b.LastWrite) : string.CompareOrdinal(a.Hash, b.Hash));
            long evicted = 0;
            foreach (var entry in entries)
            {
                if (limits.IsTrimmedTo(Volatile.Read(ref _count), Volatile.Read(ref _bytes)))
                {
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (await EvictAsync(entry, cancellationToken).ConfigureAwait(false))
                {
                    evicted++;
                }
            }

            OnEvicted("size", evicted);
        }
        finally
        {
            _scanLock.Release();
        }
    }

    /// <summary>Renames a written temporary file over an entry's file, and counts the change in the running totals.</summary>
    private async ValueTask CommitEntryAsync(string temp, string path, CancellationToken cancellationToken)
    {
        var length = FileLength(temp) ?? 0;
        var previous = FileLength(path);
        await CommitAsync(temp, path, cancellationToken).ConfigureAwait(false);
        Account(previous, length);
        CheckBounds();
    }

    /// <summary>Counts a committed entry of <paramref name="length"/> bytes that replaced one of <paramref name="previous"/> bytes (null: none).</summary>
    private void Account(long? previous, long length)
    {
        if (previous is null)
        {
            Interlocked.Increment(ref _count);
        }

        Interlocked.Add(ref _bytes, length - (previous ?? 0));
    }

    /// <summary>Counts a deleted entry of <paramref name="length"/> bytes.</summary>
    private void Forget(long length)
    {
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -length);
    }

    /// <summary>After a write: schedules a trim when over a bound, when the totals are unknown, or when they are old.</summary>
    private void CheckBounds()
    {
        if (SizeLimits is not { } limits)
        {
            return;
        }

        if (Volatile.Read(ref _totalsKnown) == 0
            || limits.IsExceededBy(Volatile.Read(ref _count), Volatile.Read(ref _bytes))
            || TimeProvider.GetElapsedTime(Volatile.Read(ref _scannedAt)) > RescanInterval)
        {
            RequestTrim();
        }
    }

    /// <summary>Marks the running totals as unknown (after a clear or an expiry sweep): the next trim or <see cref="GetTotalBytesAsync"/> scans.</summary>
    private void InvalidateTotals() => Volatile.Write(ref _totalsKnown, 0);

    /// <summary>
    /// Lists the entries of the folder with their sizes and last-write times, and sets the running totals from them.
    /// Call under <see cref="_scanLock"/>.
    /// </summary>
    /// <remarks>
    /// The totals are moved by the difference between what the listing found and what they said before it, so that
    /// writes and deletes during the listing still count (an entry written meanwhile may be counted twice, which only
    /// makes the next trim come a little early) and a reader of the totals never sees them half-counted.
    /// </remarks>
    private List<ScannedEntry> Scan(CancellationToken cancellationToken)
    {
        var countBefore = Volatile.Read(ref _count);
        var bytesBefore = Volatile.Read(ref _bytes);
        var files = new FileSystemEnumerable<(string Name, long Length, DateTimeOffset LastWrite)>(
            StoreDirectory,
            static (ref FileSystemEntry entry) => (entry.FileName.ToString(), entry.Length, entry.LastWriteTimeUtc),
            new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = static (ref FileSystemEntry entry) => !entry.IsDirectory && IsEntryFileName(entry.FileName, out _),
        };

        var entries = new Dictionary<string, ScannedEntry>(StringComparer.Ordinal);
        var bodies = new Dictionary<string, long>(StringComparer.Ordinal);
        var entryExtension = ReadableFormat ? JsonExtension : BinaryExtension;
        try
        {
            foreach (var (name, length, lastWrite) in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var hash = name[..HashLength];
                var extension = name[HashLength..];
                if (extension == entryExtension)
                {
                    entries[hash] = new ScannedEntry(hash, length, lastWrite);
                }
                else if (ReadableFormat && extension == BodyExtension)
                {
                    bodies[hash] = length;
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing stored.
        }

        long count = 0, bytes = 0;
        var list = new List<ScannedEntry>(entries.Count);
        foreach (var entry in entries.Values)
        {
            var scanned = bodies.TryGetValue(entry.Hash, out var body) ? entry with { Length = entry.Length + body } : entry;
            list.Add(scanned);
            count++;
            bytes += scanned.Length;
        }

        Interlocked.Add(ref _count, count - countBefore);
        Interlocked.Add(ref _bytes, bytes - bytesBefore);
        Volatile.Write(ref _scannedAt, TimeProvider.GetTimestamp());
        Volatile.Write(ref _totalsKnown, 1);
        return list;
    }

    /// <summary>Deletes an entry found by a scan, unless it was read (by this process) or rewritten since; true when it was deleted.</summary>
    private async ValueTask<bool> EvictAsync(ScannedEntry entry, CancellationToken cancellationToken)
    {
        if (!ReadableFormat)
        {
            var path = EntryPath(entry.Hash, BinaryExtension);
            if (_touched.ContainsKey(path) || LastWrite(path) is not { } lastWrite || lastWrite > entry.LastWrite || !DeleteEntryFile(path, out var length))
            {
                return false;
            }

            Forget(length);
            return true;
        }

        var stripe = Stripe(entry.Hash);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var jsonPath = EntryPath(entry.Hash, JsonExtension);
            if (_touched.ContainsKey(jsonPath) || LastWrite(jsonPath) is not { } lastWrite || lastWrite > entry.LastWrite)
            {
                return false;
            }

            // The .json first: it is the commit marker, so the entry is gone at once for every reader.
            var bodyPath = EntryPath(entry.Hash, BodyExtension);
            var bodyLength = FileLength(bodyPath) ?? 0;
            if (!DeleteEntryFile(jsonPath, out var jsonLength))
            {
                return false;
            }

            DeleteQuietly(bodyPath);
            Forget(jsonLength + bodyLength);
            return true;
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>Writes the last uses of reads made so far to the entry files' times now (they are otherwise written within about a second).</summary>
    internal void FlushTouches()
    {
        if (_touched.IsEmpty)
        {
            return;
        }

        lock (_flushGate)
        {
            foreach (var pair in _touched.ToArray())
            {
                SetLastUse(pair.Key, pair.Value);

                // Only if not read again meanwhile: that later read waits for the next flush.
                if (_touched.TryRemove(pair))
                {
                    Interlocked.Decrement(ref _touchedSinceFlush);
                }
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Writes the pending last uses of this storage's reads; the files stay in place.</remarks>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Interlocked.Exchange(ref _touchTimer, null)?.Dispose();
            FlushTouches();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// Notes a use of an entry: kept in memory, and written as the entry file's last-write time in the background (a
    /// metadata write costs about as much as the rest of a read). After disposal, written at once.
    /// </summary>
    private void Touch(string path)
    {
        var now = TimeProvider.GetUtcNow();
        if (Volatile.Read(ref _disposed) != 0)
        {
            SetLastUse(path, now);
            return;
        }

        if (_touched.TryAdd(path, now))
        {
            if (Interlocked.Increment(ref _touchedSinceFlush) >= TouchFlushThreshold)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static self => self.FlushTouches(), this, preferLocal: false);
            }
        }
        else
        {
            _touched[path] = now;
        }

        if (Volatile.Read(ref _touchArmed) == 0 && Interlocked.CompareExchange(ref _touchArmed, 1, 0) == 0)
        {
            var timer = Volatile.Read(ref _touchTimer);
            if (timer is null)
            {
                var created = TimeProvider.CreateTimer(static state => ((FileCache)state!).OnTouchTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                timer = Interlocked.CompareExchange(ref _touchTimer, created, null) ?? created;
                if (timer != created)
                {
                    created.Dispose();
                }
            }

            try
            {
                timer.Change(TouchFlushInterval, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Disposed meanwhile: Dispose flushed.
            }
        }
    }

    private void OnTouchTimer()
    {
        Volatile.Write(ref _touchArmed, 0);
        FlushTouches();
    }

    /// <summary>Moves a file's last-write time forward to <paramref name="usedAt"/>; never back (a write since has set a later one). Best effort.</summary>
    private static void SetLastUse(string path, DateTimeOffset usedAt)
    {
        try
        {
            if (LastWrite(path) is { } lastWrite && lastWrite < usedAt)
            {
                File.SetLastWriteTimeUtc(path, usedAt.UtcDateTime);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Deleted or replaced meanwhile.
        }
    }

    /// <summary>The length of a file, or null when it does not exist.</summary>
    private static long? FileLength(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists ? info.Length : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The last-write time of a file, or null when it does not exist.</summary>
    private static DateTimeOffset? LastWrite(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists ? new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The bytes of a readable entry's two files, or null when its <c>.json</c> does not exist.</summary>
    private long? ReadableEntryLength(string hash)
        => FileLength(EntryPath(hash, JsonExtension)) is { } json ? json + (FileLength(EntryPath(hash, BodyExtension)) ?? 0) : null;

    /// <summary>What a binary entry's header tells, with the first bytes of its value; null when it is corrupt or expired.</summary>
    private async ValueTask<StoredEntryInfo?> ReadBinaryInfoAsync(string path, int headBytes, CancellationToken cancellationToken)
    {
        var (_, entry) = await OpenBinaryAsync(path, HeaderProbeSize + Math.Min(headBytes, SmallFileSize), cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return null;
        }

        using (entry)
        {
            if (IsPastDeleteAfter(entry.DeleteAfter) || TryDecodeKey(entry.KeyBytes) is not { } key)
            {
                return null;
            }

            var head = new byte[(int)Math.Min(headBytes, entry.ValueLength)];
            var buffered = Math.Min(Math.Max(0, entry.Buffered - entry.HeaderLength), head.Length);
            entry.Buffer.AsSpan(entry.HeaderLength, buffered).CopyTo(head);
            if (buffered < head.Length
                && await ReadFullyAsync(entry.Handle, head.AsMemory(buffered), entry.HeaderLength + buffered, cancellationToken).ConfigureAwait(false) < head.Length - buffered)
            {
                return null; // shrank while being read
            }

            return new StoredEntryInfo(key, entry.ValueLength)
            {
                LastUsedAt = Later(new DateTimeOffset(File.GetLastWriteTimeUtc(entry.Handle), TimeSpan.Zero), path),
                DeleteAfter = entry.DeleteAfter,
                Head = head,
            };
        }
    }

    /// <summary>What a readable entry's <c>.json</c> tells, with the first bytes of its value (the envelope's prefix, then the <c>.body</c>'s first bytes).</summary>
    private async ValueTask<StoredEntryInfo?> ReadReadableInfoAsync(string jsonPath, int headBytes, CancellationToken cancellationToken)
    {
        var hash = Path.GetFileName(jsonPath)[..HashLength];
        var stripe = Stripe(hash);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var lastWrite = LastWrite(jsonPath);
            var header = await ReadReadableHeaderAsync(jsonPath, cancellationToken).ConfigureAwait(false);
            if (lastWrite is null || header is null || IsPastDeleteAfter(header.DeleteAfter) || !HasBody(hash, header))
            {
                return null;
            }

            var head = new byte[(int)Math.Min(headBytes, header.ValueLength)];
            var fromPrefix = Math.Min(head.Length, header.PrefixLength);
            if (fromPrefix > 0)
            {
                var prefix = ArrayPool<byte>.Shared.Rent(header.PrefixLength);
                WriteEnvelopePrefix(header.Envelope, prefix);
                prefix.AsSpan(0, fromPrefix).CopyTo(head);
                ArrayPool<byte>.Shared.Return(prefix);
            }

            if (fromPrefix < head.Length)
            {
                using var body = TryOpenRead(EntryPath(hash, BodyExtension));
                if (body is null || await ReadFullyAsync(body, head.AsMemory(fromPrefix), 0, cancellationToken).ConfigureAwait(false) < head.Length - fromPrefix)
                {
                    return null;
                }
            }

            return new StoredEntryInfo(header.Key, header.ValueLength)
            {
                LastUsedAt = Later(lastWrite.Value, jsonPath),
                DeleteAfter = header.DeleteAfter,
                Head = head,
            };
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>The later of a file's last-write time and this process's pending last use of it.</summary>
    private DateTimeOffset Later(DateTimeOffset lastWrite, string path)
        => _touched.TryGetValue(path, out var pending) && pending > lastWrite ? pending : lastWrite;

    /// <summary>An entry found by a scan: the hash in its file name, its files' bytes and its last-write time.</summary>
    private sealed record ScannedEntry(string Hash, long Length, DateTimeOffset LastWrite);
}
