using System.Globalization;
using System.Text;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using CachedHttp.Benchmarks;
using Perfolizer.Horology;

// --quick: one short in-process job (1 warm-up and 5 measured iterations of ~100 ms) so that every suite, every row,
// finishes in a few minutes; the default job is BenchmarkDotNet's own (for the published numbers on an idle machine).
var quick = args.Contains("--quick");
if (args.Contains("--cpu"))
{
    Console.WriteLine(CpuTime.Compare());
    return;
}

var rest = args.Where(a => a != "--quick").ToArray();
var job = quick
    ? Job.Default
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1)
        .WithWarmupCount(1)
        .WithIterationCount(5)
        .WithIterationTime(TimeInterval.FromMilliseconds(100))
        .WithUnrollFactor(1)
        .WithId("Quick")
    : Job.Default.WithId("Default");
var config = DefaultConfig.Instance
    .AddJob(job)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);

// Suites whose server is missing are left out, with the reason printed (and written with the results).
var skipped = new List<string>();
var types = typeof(Support).Assembly.GetTypes()
    .Where(t => t is { IsAbstract: false, IsPublic: true } && t.Name.EndsWith("Benchmarks", StringComparison.Ordinal))
    .ToList();
if (Support.Servers.RedisProblem() is { } redis)
{
    skipped.Add($"Redis rows skipped: {redis}");
    types.Remove(typeof(RedisHitBenchmarks));
}

if (Support.Servers.DynamoDbProblem() is { } dynamo)
{
    skipped.Add($"DynamoDB rows skipped: {dynamo}");
    types.Remove(typeof(DynamoDbHitBenchmarks));
}

foreach (var line in skipped)
{
    Console.WriteLine("// " + line);
}

var loadBefore = LoadAverage();
var started = DateTime.UtcNow;
var summaries = BenchmarkSwitcher.FromTypes([.. types]).Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);

// Memory per stored entry is not a BenchmarkDotNet suite: it measures what stays on the heap, not what a call allocates.
var filter = rest.SkipWhile(a => a != "--filter").Skip(1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
var entryMemory = filter.Count == 0 || filter.Any(f => f == "*" || f.Contains("Entry", StringComparison.OrdinalIgnoreCase))
    ? EntryMemory.Measure()
    : null;

var table = RatioTable.Build(summaries, entryMemory, StampedeBenchmarks.OriginRequests, skipped, quick, loadBefore, LoadAverage(), DateTime.UtcNow - started);
Console.WriteLine();
Console.WriteLine(table);
var output = Path.Combine(config.ArtifactsPath ?? "BenchmarkDotNet.Artifacts", "results", "ratios.md");
Directory.CreateDirectory(Path.GetDirectoryName(output)!);
File.WriteAllText(output, table);
Console.WriteLine($"// Ratio table written to {Path.GetFullPath(output)}");

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

/// <summary>The ratio of each row to its floor (the baseline of its suite with the same parameters), from the same run.</summary>
internal static class RatioTable
{
    /// <summary>Issue 8's targets: a row's largest allowed ratio to its floor, by suite.</summary>
    private static readonly Dictionary<string, double> Targets = new(StringComparer.Ordinal)
    {
        ["MemoryHitBenchmarks"] = 2.0,
        ["FileHitBenchmarks"] = 1.5,
        ["SqliteHitBenchmarks"] = 1.5,
        ["RedisHitBenchmarks"] = 1.2,
        ["MissAndStoreBenchmarks"] = 1.1,
    };

    private static readonly string[] SuiteOrder =
    [
        "MemoryHitBenchmarks", "FileHitBenchmarks", "SqliteHitBenchmarks", "RedisHitBenchmarks", "DynamoDbHitBenchmarks",
        "MissAndStoreBenchmarks", "RevalidationBenchmarks", "MemoryThroughputBenchmarks", "SqliteThroughputBenchmarks", "StampedeBenchmarks",
    ];

    public static string Build(
        IEnumerable<Summary> summaries,
        EntryMemoryResult? entryMemory,
        IReadOnlyDictionary<string, int> originRequests,
        IReadOnlyList<string> skipped,
        bool quick,
        string loadBefore,
        string loadAfter,
        TimeSpan elapsed)
    {
        var reports = summaries.SelectMany(s => s.Reports.Select(r => (Summary: s, Report: r))).Where(x => x.Report.ResultStatistics is not null).ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## Ratios to the floor ({(quick ? "quick job" : "default job")}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, load average {loadBefore} before and {loadAfter} after; {elapsed.TotalMinutes:0.0} min in all. Medians; ratio = row / floor of the same suite and body size, in this run.");
        text.AppendLine();
        text.AppendLine("| Suite | Body | Floor | Floor median | Row | Row median | Ratio | Allocated floor → row | Target |");
        text.AppendLine("|---|---:|---|---:|---|---:|---:|---|---|");
        var rows = reports.Select(x => x.Report).Where(r => !r.BenchmarkCase.Descriptor.Baseline)
            .OrderBy(r => Array.IndexOf(SuiteOrder, r.BenchmarkCase.Descriptor.Type.Name) is var i and >= 0 ? i : int.MaxValue)
            .ThenBy(r => r.BenchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "BodySize")?.Value as int? ?? 0);
        foreach (var report in rows)
        {
            var row = report.BenchmarkCase;
            var floor = reports.Select(x => x.Report).FirstOrDefault(r => r.BenchmarkCase.Descriptor.Baseline
                && r.BenchmarkCase.Descriptor.Type == row.Descriptor.Type
                && r.BenchmarkCase.Parameters.DisplayInfo == row.Parameters.DisplayInfo);
            var suite = row.Descriptor.Type.Name;
            var body = row.Parameters.Items.FirstOrDefault(p => p.Name == "BodySize")?.Value is int size ? Size(size) : "1 KB";
            var rowMedian = report.ResultStatistics!.Median;
            var floorMedian = floor?.ResultStatistics?.Median;
            var ratio = floorMedian is > 0 ? rowMedian / floorMedian.Value : double.NaN;
            var target = Targets.TryGetValue(suite, out var limit)
                ? $"≤ {limit:0.0#}× {(ratio <= limit ? "met" : "**not met**")}"
                : "—";
            text.AppendLine(CultureInfo.InvariantCulture, $"| {suite.Replace("Benchmarks", string.Empty, StringComparison.Ordinal)} | {body} | {floor?.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo.Trim('\'') ?? "?"} | {Time(floorMedian)} | {row.Descriptor.WorkloadMethodDisplayInfo.Trim('\'')} | {Time(rowMedian)} | {ratio:0.00}× | {Bytes(floor, floor?.BenchmarkCase)} → {Bytes(report, row)} | {target} |");
        }

        text.AppendLine();
        if (originRequests.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Stampede of {StampedeBenchmarks.Requests:N0} identical requests, origin requests in the last one measured: plain {Count(originRequests, "floor")}, CachedHttp {Count(originRequests, "cached")}.");
            text.AppendLine();
        }

        if (entryMemory is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Memory per stored entry (in-memory backend, {EntryMemory.Entries:N0} entries of 1 KB, heap after a full collection): floor (64-character key + body in a dictionary) {entryMemory.FloorBytes:N0} B; CachedHttp {entryMemory.StoredBytes:N0} B ({entryMemory.StoredBytes / entryMemory.FloorBytes:0.00}×), {entryMemory.AfterHitBytes:N0} B after one hit each ({entryMemory.AfterHitBytes / entryMemory.FloorBytes:0.00}×: the decoded record is kept).");
            text.AppendLine();
        }

        foreach (var line in skipped)
        {
            text.AppendLine(line);
            text.AppendLine();
        }

        return text.ToString();
    }

    private static string Count(IReadOnlyDictionary<string, int> counts, string row) => counts.TryGetValue(row, out var count) ? count.ToString("N0", CultureInfo.InvariantCulture) : "?";

    private static string Size(int bytes) => bytes >= 1048576 ? $"{bytes / 1048576} MB" : $"{bytes / 1024} KB";

    private static string Time(double? nanoseconds) => nanoseconds switch
    {
        null => "?",
        >= 1_000_000 => $"{nanoseconds / 1_000_000:0.00} ms",
        >= 1_000 => $"{nanoseconds / 1_000:0.00} µs",
        _ => $"{nanoseconds:0} ns",
    };

    private static string Bytes(BenchmarkReport? report, BenchmarkDotNet.Running.BenchmarkCase? benchmarkCase)
    {
        if (report is null || benchmarkCase is null || report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase) is not { } bytes)
        {
            return "?";
        }

        return bytes >= 10 * 1024 ? $"{bytes / 1024.0:N0} KB" : $"{bytes:N0} B";
    }
}
