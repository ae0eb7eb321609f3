using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace CachedHttp.Benchmarks;

/// <summary>
/// <c>--cpu</c>: the hit rows that complete on the calling thread (memory and SQLite) measured in CPU time of that thread
/// (<c>CLOCK_THREAD_CPUTIME_ID</c>), floor and row batches interleaved, medians of the per-operation times. On a loaded
/// machine wall-clock medians swing with the load; thread CPU time does not count the time the thread waits for a core,
/// so these ratios stay usable there (cache pollution by other processes still inflates both sides a little). Linux only.
/// </summary>
internal static partial class CpuTime
{
    private const int ClockThreadCpuTime = 3;
    private const int Rounds = 25;

    public static string Compare()
    {
        var text = new StringBuilder();
        text.AppendLine("## CPU time per operation of the calling thread (--cpu; floor and row interleaved, medians of 25 batches)");
        text.AppendLine();
        text.AppendLine("| Suite | Body | Floor | Row | Ratio |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var size in new[] { 1024, 65536, 1048576 })
        {
            var memory = new MemoryHitBenchmarks { BodySize = size };
            memory.Setup();
            text.AppendLine(Row("MemoryHit", size, memory.Floor, () => memory.Hit().GetAwaiter().GetResult()));
            memory.Cleanup();
        }

        foreach (var size in new[] { 1024, 65536, 1048576 })
        {
            var sqlite = new SqliteHitBenchmarks { BodySize = size };
            sqlite.Setup();
            text.AppendLine(Row("SqliteHit", size, sqlite.Floor, () => sqlite.Hit().GetAwaiter().GetResult()));
            sqlite.Cleanup();
        }

        return text.ToString();
    }

    public static double PerOperation(Func<long> operation)
    {
        var batch = 1;
        while (Measure(operation, batch) * batch < 20_000_000 && batch < 1 << 20)
        {
            batch *= 2;
        }

        var values = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            values.Add(Measure(operation, batch));
        }

        return Median(values);
    }

    private static string Row(string suite, int size, Func<long> floor, Func<long> row)
    {
        // Warm up both (half a second each, so that tiered compilation settles), then size a batch to about 20 ms of the floor.
        Warm(floor);
        Warm(row);
        var batch = 1;
        while (Measure(floor, batch) * batch < 20_000_000 && batch < 1 << 20)
        {
            batch *= 2;
        }

        var floors = new List<double>();
        var rows = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            floors.Add(Measure(floor, batch));
            rows.Add(Measure(row, batch));
        }

        var f = Median(floors);
        var r = Median(rows);
        return string.Create(CultureInfo.InvariantCulture, $"| {suite} | {(size >= 1048576 ? "1 MB" : size / 1024 + " KB")} | {Format(f)} | {Format(r)} | {r / f:0.00}× |");
    }

    private static void Warm(Func<long> operation)
    {
        var until = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 2);
        while (Stopwatch.GetTimestamp() < until)
        {
            operation();
        }
    }

    /// <summary>Nanoseconds of thread CPU time per call.</summary>
    private static double Measure(Func<long> operation, int count)
    {
        var start = Now();
        for (var i = 0; i < count; i++)
        {
            operation();
        }

        return (Now() - start) / (double)count;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static string Format(double ns) => ns >= 1_000_000 ? $"{ns / 1_000_000:0.00} ms" : ns >= 1000 ? $"{ns / 1000:0.00} µs" : $"{ns:0} ns";

    private static long Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Stopwatch.GetTimestamp() * (1_000_000_000 / Stopwatch.Frequency);
        }

        ClockGetTime(ClockThreadCpuTime, out var time);
        return (time.Seconds * 1_000_000_000) + time.Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
