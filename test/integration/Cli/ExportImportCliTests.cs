using System.Diagnostics;
using CachedHttp.Cli;
using CachedHttp.Tests.Integration.Foundation;

namespace CachedHttp.Tests.Integration.Cli;

/// <summary><c>cachedhttp export</c> and <c>import</c> end to end: real origin, real SQLite and file caches, the tool's entry point.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ExportImportCliTests : OriginFixture
{
    private readonly string _folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cachedhttp-cli-export-" + Guid.NewGuid().ToString("N")[..8]);

    [OneTimeSetUp]
    public void CreateFolder() => Directory.CreateDirectory(_folder);

    [OneTimeTearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CliApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private string NewPath(string name) => System.IO.Path.Combine(_folder, Unique() + "-" + name);

    /// <summary>Fills a new SQLite cache with three responses through the tool; returns its spec and the URLs.</summary>
    private async Task<(string Cache, string[] Urls)> FilledSqliteCacheAsync(string tag)
    {
        var cache = "sqlite:" + NewPath("source.sqlite");
        string[] urls = [Origin.Url($"/json?t={tag}").AbsoluteUri, Origin.Url($"/bytes/70000?t={tag}").AbsoluteUri, Origin.Url($"/redirect/1?t={tag}").AbsoluteUri];
        foreach (var url in urls)
        {
            var fetched = await RunAsync("get", url, "--cache", cache, "--expire", "1h");
            fetched.Exit.Should().Be(0, fetched.Err);
            fetched.Err.Should().StartWith("cache: miss");
        }

        return (cache, urls);
    }

    private int OriginRequests(string tag) => Origin.RecordedRequests.Count(r => r.Query.Contains(tag, StringComparison.Ordinal));

    private async Task ShouldAllBeHitsAsync(string cache, string tag, IEnumerable<string> urls)
    {
        var before = OriginRequests(tag);
        foreach (var url in urls)
        {
            var hit = await RunAsync("get", url, "--cache", cache);
            hit.Exit.Should().Be(0, hit.Err);
            hit.Err.Should().StartWith("cache: hit", url);
        }

        OriginRequests(tag).Should().Be(before, "the imported cache answered without the origin");
    }

    [Test]
    public async Task ExportImport_SqliteIntoFileCache_GetHitsWithoutTheOrigin()
    {
        var tag = Unique();
        var (source, urls) = await FilledSqliteCacheAsync(tag);
        var export = NewPath("cache.chx");
        var target = "file:" + NewPath("target");

        var exported = await RunAsync("export", export, "--cache", source);
        var imported = await RunAsync("import", export, "--cache", target);

        exported.Exit.Should().Be(0, exported.Err);
        exported.Out.Should().BeEmpty("stdout is left for the data of 'export -'");
        exported.Err.Should().StartWith("exported 3 responses, 0 Vary indexes, 1 redirect (").And.Contain("to " + export);
        File.Exists(export + ".partial").Should().BeFalse();
        imported.Exit.Should().Be(0, imported.Err);
        imported.Err.Should().StartWith("imported 3 responses, 0 Vary indexes, 1 redirect (").And.Contain("from " + export);
        imported.Err.Trim().Split('\n').Should().HaveCount(1, "no progress lines for a quick transfer into a writer that is not a terminal");
        await ShouldAllBeHitsAsync(target, tag, [.. urls, Origin.Url($"/redirect/0?t={tag}").AbsoluteUri]);
    }

    [Test]
    public async Task Export_ToStandardOutput_WritesTheExportBytes()
    {
        var tag = Unique();
        var (source, urls) = await FilledSqliteCacheAsync(tag);
        var data = new MemoryStream();
        int exit;
        using (var output = new StreamWriter(data, leaveOpen: true))
        using (var error = new StringWriter())
        {
            exit = await CliApp.RunAsync(["export", "-", "--cache", source, "--quiet"], output, error);
            error.ToString().Should().BeEmpty("--quiet");
        }

        exit.Should().Be(0);
        data.ToArray().AsSpan(0, 4).ToArray().Should().Equal(0x89, (byte)'C', (byte)'H', (byte)'X');
        var file = NewPath("stdout.chx");
        await File.WriteAllBytesAsync(file, data.ToArray());
        var target = "file:" + NewPath("from-stdout");
        (await RunAsync("import", file, "--cache", target, "--quiet")).Exit.Should().Be(0);
        await ShouldAllBeHitsAsync(target, tag, urls);
    }

    [Test]
    public async Task Export_GzFileName_IsCompressed_AndImportDetectsIt()
    {
        var tag = Unique();
        var (source, urls) = await FilledSqliteCacheAsync(tag);
        var export = NewPath("cache.chx.gz");

        (await RunAsync("export", export, "--cache", source)).Exit.Should().Be(0);
        var target = "file:" + NewPath("from-gz");
        var imported = await RunAsync("import", export, "--cache", target);

        (await File.ReadAllBytesAsync(export)).AsSpan(0, 2).ToArray().Should().Equal(0x1F, 0x8B);
        imported.Exit.Should().Be(0, imported.Err);
        await ShouldAllBeHitsAsync(target, tag, urls);
    }

    [Test]
    public async Task Import_SkipExisting_KeepsWhatTheCacheHas()
    {
        var tag = Unique();
        var (source, _) = await FilledSqliteCacheAsync(tag);
        var export = NewPath("cache.chx");
        (await RunAsync("export", export, "--cache", source)).Exit.Should().Be(0);

        var again = await RunAsync("import", export, "--cache", source, "--skip-existing");

        again.Exit.Should().Be(0, again.Err);
        again.Err.Should().StartWith("imported 0 responses").And.Contain("left out 4 existing");
    }

    [Test]
    public async Task Import_TruncatedFile_ExitOne_OneLineNamingTheRecord()
    {
        var (source, _) = await FilledSqliteCacheAsync(Unique());
        var export = NewPath("cache.chx");
        (await RunAsync("export", export, "--cache", source)).Exit.Should().Be(0);
        var bytes = await File.ReadAllBytesAsync(export);
        var cut = NewPath("cut.chx");
        await File.WriteAllBytesAsync(cut, bytes[..(bytes.Length - 200)]);

        var result = await RunAsync("import", cut, "--cache", "memory");

        result.Exit.Should().Be(1);
        result.Err.Trim().Split('\n').Should().HaveCount(1);
        result.Err.Should().StartWith($"cachedhttp: cannot import '{cut}': The export is truncated: it ends inside record ")
            .And.Contain("entries before it were imported")
            .And.NotContain("   at ");
    }

    [Test]
    public async Task Import_NotAnExport_ExitOne()
    {
        var file = NewPath("not-an-export.txt");
        await File.WriteAllTextAsync(file, "hello");

        var result = await RunAsync("import", file, "--cache", "memory");

        result.Exit.Should().Be(1);
        result.Err.Should().Be($"cachedhttp: cannot import '{file}': The data is not a CachedHttp export (it does not start with the export magic bytes).{Environment.NewLine}");
    }

    [Test]
    public async Task Import_MissingFile_ExitOne()
    {
        var file = NewPath("missing.chx");

        var result = await RunAsync("import", file, "--cache", "memory");

        result.Exit.Should().Be(1);
        result.Err.Should().Be($"cachedhttp: cannot read '{file}': no such file{Environment.NewLine}");
    }

    [Test]
    public async Task Export_StorageDown_ExitOne_OneLine_AndNoFileLeft()
    {
        var export = NewPath("never.chx");

        var result = await RunAsync("export", export, "--cache", "redis:127.0.0.1:1,connectTimeout=200");

        result.Exit.Should().Be(1);
        result.Err.Trim().Split('\n').Should().HaveCount(1);
        result.Err.Should().StartWith("cachedhttp: export failed: ").And.NotContain("   at ");
        File.Exists(export).Should().BeFalse();
        File.Exists(export + ".partial").Should().BeFalse();
    }

    [Test]
    public async Task Export_IntoAMissingFolder_ExitOne()
    {
        var result = await RunAsync("export", System.IO.Path.Combine(_folder, "no-such-folder", "x.chx"), "--cache", "memory");

        result.Exit.Should().Be(1);
        result.Err.Should().EndWith($"its folder does not exist{Environment.NewLine}");
    }

    [TestCase("export")]
    [TestCase("export", "a.chx", "b.chx")]
    [TestCase("export", "a.chx", "--skip-existing")]
    [TestCase("import")]
    [TestCase("import", "a.chx", "--gzip")]
    [TestCase("import", "a.chx", "--include-expired")]
    public async Task UsageErrors_ExitTwo_OneLine(params string[] args)
    {
        var result = await RunAsync([.. args, "--cache", "memory"]);

        result.Exit.Should().Be(2);
        result.Err.Trim().Split('\n').Should().HaveCount(1);
        result.Err.Should().StartWith("cachedhttp: ");
    }

    [TestCase("export")]
    [TestCase("import")]
    public async Task BadCacheSpec_ExitTwo_OneLine(string command)
    {
        var result = await RunAsync(command, NewPath("x.chx"), "--cache", "sqlite:");

        result.Exit.Should().Be(2);
        result.Err.Trim().Split('\n').Should().HaveCount(1);
        result.Err.Should().StartWith("cachedhttp: cannot open the cache:");
    }

    [Test]
    public async Task Help_ListsExportAndImport()
    {
        var help = await RunAsync("--help");

        help.Out.Should().Contain("export FILE|-").And.Contain("import FILE|-").And.Contain("--skip-existing").And.Contain("--include-expired");
    }

    /// <summary>The real tool in two processes: <c>cachedhttp export - | cachedhttp import -</c>.</summary>
    [Test]
    public async Task ExportToStdoutPipedIntoImportFromStdin_InTwoProcesses_MovesTheCache()
    {
        var tag = Unique();
        var (source, urls) = await FilledSqliteCacheAsync(tag);
        var target = "file:" + NewPath("piped");
        using var exporter = StartTool(redirectInput: false, "export", "-", "--cache", source, "--gzip");
        using var importer = StartTool(redirectInput: true, "import", "-", "--cache", target);
        var exporterErrors = exporter.StandardError.ReadToEndAsync();
        var importerErrors = importer.StandardError.ReadToEndAsync();

        await exporter.StandardOutput.BaseStream.CopyToAsync(importer.StandardInput.BaseStream);
        importer.StandardInput.Close();
        await exporter.WaitForExitAsync();
        await importer.WaitForExitAsync();

        exporter.ExitCode.Should().Be(0, await exporterErrors);
        importer.ExitCode.Should().Be(0, await importerErrors);
        (await exporterErrors).Should().StartWith("exported 3 responses").And.Contain("to standard output");
        (await importerErrors).Should().StartWith("imported 3 responses").And.Contain("from standard input");
        await ShouldAllBeHitsAsync(target, tag, urls);
    }

    [Test]
    public async Task ImportFromStdin_WhenStdinIsNotAnExport_ExitOne()
    {
        using var importer = StartTool(redirectInput: true, "import", "-", "--cache", "memory");
        var errors = importer.StandardError.ReadToEndAsync();
        await importer.StandardInput.WriteAsync("plain text");
        importer.StandardInput.Close();
        await importer.WaitForExitAsync();

        importer.ExitCode.Should().Be(1);
        (await errors).Should().StartWith("cachedhttp: cannot import standard input: The data is not a CachedHttp export");
    }

    private static Process StartTool(bool redirectInput, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(CliApp).Assembly.Location);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }
}

/// <summary>The progress display: in place on a terminal, a line every few seconds otherwise, never the final numbers.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ProgressPrinterTests
{
    private static CacheTransferProgress At(double seconds, long responses, long bytes)
        => new() { Responses = responses, Bytes = bytes, Elapsed = TimeSpan.FromSeconds(seconds) };

    [Test]
    public void Describe_Progress_ShowsCountBytesAndRates()
    {
        ProgressPrinter.Describe("exporting", At(2, 2468, 3 * 1024 * 1024))
            .Should().Be("exporting: 2,468 entries, 3.0 MB (1,234 entries/s, 1.5 MB/s)");
        ProgressPrinter.Describe("importing", At(0, 1, 10)).Should().Be("importing: 1 entries, 10 B");
    }

    [Test]
    public void Report_OnATerminal_RewritesOneLineInPlace_AndFinishClearsIt()
    {
        using var error = new StringWriter();
        var printer = new ProgressPrinter(error, "exporting", terminal: true);

        printer.Report(At(1, 100, 2048));
        printer.Report(At(1.2, 5, 10));
        printer.Finish();

        error.ToString().Should().NotContain("\n");
        error.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries).Select(s => s.TrimEnd())
            .Should().Equal("exporting: 100 entries, 2.0 KB (100 entries/s, 2.0 KB/s)", "exporting: 5 entries, 10 B (4 entries/s, 8 B/s)", string.Empty);
        error.ToString().Should().EndWith("\r");
    }

    [Test]
    public void Report_NotATerminal_WritesAPlainLineEveryFewSeconds()
    {
        using var error = new StringWriter();
        var printer = new ProgressPrinter(error, "importing", terminal: false);

        for (var second = 0.2; second < 12; second += 0.2)
        {
            printer.Report(At(second, (long)(second * 10), 0));
        }

        printer.Report(new CacheTransferResult { Responses = 120, Elapsed = TimeSpan.FromSeconds(12) });
        printer.Finish();

        var lines = error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(2, "one line per 5 seconds, and not the final numbers (the summary line says them)");
        lines.Should().AllSatisfy(l => l.Should().StartWith("importing: "));
        error.ToString().Should().NotContain("\r");
    }

    [Test]
    public void Summary_SkippedEntries_AreNamed()
    {
        var result = new CacheTransferResult { Responses = 1, Redirects = 2, SkippedExpired = 3, SkippedExisting = 4, Bytes = 2048, Elapsed = TimeSpan.FromSeconds(1.2) };

        ExportCommands.Summary("imported", result, "from x.chx", "expired", "unreadable", "existing")
            .Should().Be("imported 1 response, 0 Vary indexes, 2 redirects (2.0 KB) from x.chx in 1.2 s; left out 3 expired, 4 existing");
    }
}
