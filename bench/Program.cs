using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// --quick: a short job (3 warm-up, 5 measured iterations, in-process) so that every suite finishes in minutes.
var quick = args.Contains("--quick");
var rest = args.Where(a => a != "--quick").ToArray();
var job = quick
    ? Job.ShortRun.WithWarmupCount(2).WithIterationCount(5).WithLaunchCount(1).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance)
    : Job.Default;
var config = DefaultConfig.Instance
    .AddJob(job.WithId(quick ? "Quick" : "Default"))
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);
