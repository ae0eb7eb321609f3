using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CachedHttp.Benchmarks;

/// <summary>
/// Memory per stored entry in the in-memory backend: the managed heap after a full collection, before and after
/// storing <see cref="Entries"/> responses of 1 KB (each with the benchmark's five headers), divided by their number;
/// next to its floor, the same bodies under 64-character keys in a <see cref="ConcurrentDictionary{TKey, TValue}"/>.
/// Not a BenchmarkDotNet suite: what is measured is what stays, not what a call allocates.
/// </summary>
internal static class EntryMemory
{
    public const int Entries = 10_000;
    private const int BodySize = 1024;

    public static EntryMemoryResult Measure()
    {
        var body = Support.Body(BodySize);

        var before = Heap();
        var floor = new ConcurrentDictionary<string, byte[]>(StringComparer.Ordinal);
        for (var i = 0; i < Entries; i++)
        {
            floor[Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Url(i))))] = body.ToArray();
        }

        var floorBytes = (Heap() - before) / (double)Entries;
        GC.KeepAlive(floor);
        floor = null;

        before = Heap();
        var backend = new CacheBackend(new CacheOptions { ExpireAfter = Expiration.Never });
        using var invoker = new HttpMessageInvoker(new CachingHandler(backend, new Support.BodyHandler(body)));
        for (var i = 0; i < Entries; i++)
        {
            Support.Warm(invoker, Url(i));
        }

        var storedBytes = (Heap() - before) / (double)Entries;
        for (var i = 0; i < Entries; i++)
        {
            Support.HitAsync(invoker, Url(i)).GetAwaiter().GetResult();
        }

        var afterHitBytes = (Heap() - before) / (double)Entries;
        var count = backend.Responses.CountAsync().AsTask().GetAwaiter().GetResult();
        if (count != Entries)
        {
            throw new InvalidOperationException($"{count} entries stored, {Entries} expected.");
        }

        GC.KeepAlive(backend);
        return new EntryMemoryResult(floorBytes, storedBytes, afterHitBytes);
    }

    private static string Url(int i) => "http://bench.local/items/" + i.ToString(CultureInfo.InvariantCulture) + "?page=1";

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

/// <summary>Bytes per entry: the floor (key + body in a dictionary), stored, and stored after one hit each (the decoded record kept).</summary>
internal sealed record EntryMemoryResult(double FloorBytes, double StoredBytes, double AfterHitBytes);
