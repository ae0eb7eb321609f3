using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CachedHttp.Internal;

/// <summary>The one <see cref="Meter"/> of the library, named <c>CachedHttp</c>.</summary>
internal static class CacheMetrics
{
    public const string MeterName = "CachedHttp";

    public static readonly Meter Meter = new(MeterName, typeof(CacheMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("cachedhttp.requests", unit: "{request}", description: "Requests through the cache, by result: hit, miss, stale, revalidated, bypassed.");

    private static readonly Counter<long> StorageErrors = Meter.CreateCounter<long>("cachedhttp.storage.errors", unit: "{error}", description: "Storage operations that failed or timed out and were bypassed (fail-open), by operation and reason: error, timeout.");

    private static readonly Counter<long> StorageSkips = Meter.CreateCounter<long>("cachedhttp.storage.skipped", unit: "{operation}", description: "Storage operations not made because the circuit breaker was open, by operation.");

    private static readonly Counter<long> CircuitOpenings = Meter.CreateCounter<long>("cachedhttp.storage.circuit.opened", unit: "{event}", description: "Times a storage's circuit breaker opened (after consecutive failures, or after a failed trial call).");

    private static readonly UpDownCounter<long> OpenCircuits = Meter.CreateUpDownCounter<long>("cachedhttp.storage.circuit.open", unit: "{circuit}", description: "Circuit breakers that are open or half-open now (storage bypassed): 1 per such backend.");

    private static readonly Counter<long> RejectedEntries = Meter.CreateCounter<long>("cachedhttp.entries.rejected", unit: "{entry}", description: "Stored entries that could not be read or authenticated and were treated as misses, by reason.");

    private static readonly Counter<long> StoredBytes = Meter.CreateCounter<long>("cachedhttp.stored.bytes", unit: "By", description: "Body bytes written to storage.");

    private static readonly Counter<long> Evictions = Meter.CreateCounter<long>("cachedhttp.evictions", unit: "{entry}", description: "Stored entries removed by the cache itself (not by a caller), by reason: expired, vary-limit, size, ...");

    private static readonly Histogram<double> StorageDuration = Meter.CreateHistogram<double>("cachedhttp.storage.duration", unit: "s", description: "Duration of storage operations.");

    public static void Request(string result, string storage)
        => Requests.Add(1, new KeyValuePair<string, object?>("result", result), new KeyValuePair<string, object?>("backend", storage));

    /// <summary>Counts a storage operation that failed (<c>error</c>) or timed out (<c>timeout</c>) and was bypassed.</summary>
    public static void StorageError(string storage, string operation, string reason)
        => StorageErrors.Add(
            1,
            new KeyValuePair<string, object?>("backend", storage),
            new KeyValuePair<string, object?>("operation", operation),
            new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Counts a storage operation skipped because the circuit was open.</summary>
    public static void StorageSkipped(string storage, string operation)
        => StorageSkips.Add(1, new KeyValuePair<string, object?>("backend", storage), new KeyValuePair<string, object?>("operation", operation));

    /// <summary>Counts a circuit that opened; <paramref name="wasClosed"/> is false when a failed trial reopened it (it was counted as open already).</summary>
    public static void CircuitOpened(string storage, bool wasClosed)
    {
        CircuitOpenings.Add(1, new KeyValuePair<string, object?>("backend", storage));
        if (wasClosed)
        {
            OpenCircuits.Add(1, new KeyValuePair<string, object?>("backend", storage));
        }
    }

    /// <summary>Counts a circuit that is no longer open: it closed, or its backend was disposed while it was open.</summary>
    public static void CircuitClosed(string storage) => OpenCircuits.Add(-1, new KeyValuePair<string, object?>("backend", storage));

    public static void RejectedEntry(string storage, CacheFormatException exception)
        => RejectedEntries.Add(1, new KeyValuePair<string, object?>("backend", storage), new KeyValuePair<string, object?>("reason", exception.ReasonTag));

    public static void Stored(string storage, long bytes) => StoredBytes.Add(bytes, new KeyValuePair<string, object?>("backend", storage));

    /// <summary>Counts entries the cache removed on its own, for a reason such as <c>expired</c>, <c>vary-limit</c> or <c>size</c>.</summary>
    /// <param name="storage">The backend's storage name (the <c>backend</c> tag).</param>
    /// <param name="reason">Why the entries were removed (the <c>reason</c> tag); a short fixed word, never a key.</param>
    /// <param name="count">How many entries; nothing is recorded for zero.</param>
    public static void Evicted(string storage, string reason, long count = 1)
    {
        if (count > 0)
        {
            Evictions.Add(count, new KeyValuePair<string, object?>("backend", storage), new KeyValuePair<string, object?>("reason", reason));
        }
    }

    /// <summary>Counts a failure of a storage's own background work (a trim, a flush of last uses) in <c>cachedhttp.storage.errors</c>.</summary>
    /// <param name="storage">The storage's name (the <c>backend</c> tag).</param>
    /// <param name="operation">The work (the <c>operation</c> tag): <c>trim</c>, <c>touch</c>.</param>
    public static void BackgroundFailure(string storage, string operation)
        => StorageErrors.Add(
            1,
            new KeyValuePair<string, object?>("backend", storage),
            new KeyValuePair<string, object?>("operation", operation),
            new KeyValuePair<string, object?>("reason", "error"));
    /// <summary>The start of a storage operation for <see cref="Duration"/>: a timestamp, or 0 when nobody listens to the histogram.</summary>
    public static long StartTimestamp() => StorageDuration.Enabled ? Stopwatch.GetTimestamp() : 0;

    public static void Duration(string storage, string operation, long startTimestamp)
    {
        if (startTimestamp != 0 && StorageDuration.Enabled)
        {
            StorageDuration.Record(
                Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds,
                new KeyValuePair<string, object?>("backend", storage),
                new KeyValuePair<string, object?>("operation", operation));
        }
    }
}
