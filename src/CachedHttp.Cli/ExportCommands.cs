using System.Globalization;

namespace CachedHttp.Cli;

/// <summary>
/// <c>cachedhttp export FILE|-</c> and <c>cachedhttp import FILE|-</c>: move a cache between backends through the
/// CachedHttp export format, with progress on stderr and one-line errors.
/// </summary>
/// <remarks>
/// Exit codes: 0 done; 1 failed (a damaged or truncated export, a file or storage error); 2 a usage error;
/// 130 cancelled with Ctrl+C. An export to a FILE is written to <c>FILE.partial</c> and renamed when complete, so that
/// FILE is never a half-written export.
/// </remarks>
internal static class ExportCommands
{
    public const int ExitCancelled = 130;

    /// <summary>How often the library reports progress (the printer then decides what to show).</summary>
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(200);

    public static async Task<int> ExportAsync(CacheBackend backend, CliArguments args, TextWriter output, TextWriter error)
    {
        var path = SinglePath(args, "export", "standard output");
        RejectFlags(args, "export", "skip-existing");
        var options = new CacheExportOptions
        {
            IncludeExpired = args.Flags.Contains("include-expired"),
            Compress = args.Flags.Contains("gzip") || path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase),
            ProgressInterval = ReportInterval,
        };
        var quiet = args.Flags.Contains("quiet");
        var printer = quiet ? null : ProgressPrinter.For(error, "exporting");
        using var cancellation = CancelOnCtrlC(error);
        string? partial = null;
        try
        {
            CacheTransferResult result;
            if (path == "-")
            {
                var stdout = StandardOutput(output);
                result = await backend.ExportAsync(stdout, options, printer, cancellation.Token);
                await stdout.FlushAsync(cancellation.Token);
            }
            else
            {
                partial = path + ".partial";
                await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
                {
                    result = await backend.ExportAsync(file, options, printer, cancellation.Token);
                }

                File.Move(partial, path, overwrite: true);
                partial = null;
            }

            printer?.Finish();
            if (!quiet)
            {
                await error.WriteLineAsync(Summary("exported", result, "to " + (path == "-" ? "standard output" : path), result.SkippedExpired > 0 ? "expired (--include-expired keeps them)" : "expired", "unreadable", "existing"));
            }

            return CliApp.ExitOk;
        }
        catch (Exception ex) when (ex is not CliUsageException)
        {
            printer?.Finish();
            return await FailAsync(error, "export", path, ex, cancellation.IsCancellationRequested);
        }
        finally
        {
            if (partial is not null)
            {
                TryDelete(partial);
            }
        }
    }

    public static async Task<int> ImportAsync(CacheBackend backend, CliArguments args, TextWriter error)
    {
        var path = SinglePath(args, "import", "standard input");
        RejectFlags(args, "import", "include-expired", "gzip");
        var options = new CacheImportOptions { SkipExisting = args.Flags.Contains("skip-existing"), ProgressInterval = ReportInterval };
        var quiet = args.Flags.Contains("quiet");
        var printer = quiet ? null : ProgressPrinter.For(error, "importing");
        using var cancellation = CancelOnCtrlC(error);
        try
        {
            CacheTransferResult result;
            if (path == "-")
            {
                if (!Console.IsInputRedirected)
                {
                    throw new CliUsageException("import - reads the export from standard input, which is a terminal; pipe or redirect it (< FILE)");
                }

                await using var stdin = Console.OpenStandardInput();
                result = await backend.ImportAsync(stdin, options, printer, cancellation.Token);
            }
            else
            {
                await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);
                result = await backend.ImportAsync(file, options, printer, cancellation.Token);
            }

            printer?.Finish();
            if (!quiet)
            {
                var exported = string.Create(CultureInfo.InvariantCulture, $"from {(path == "-" ? "standard input" : path)} (exported {result.ExportedAt:yyyy-MM-dd HH:mm:ss}Z)");
                await error.WriteLineAsync(Summary("imported", result, exported, "expired", "unreadable", "existing (--skip-existing)"));
            }

            return CliApp.ExitOk;
        }
        catch (Exception ex) when (ex is not CliUsageException)
        {
            printer?.Finish();
            return await FailAsync(error, "import", path, ex, cancellation.IsCancellationRequested);
        }
    }

    /// <summary><c>exported 1,200 responses, 3 Vary indexes, 4 redirects (12.3 MB) to FILE in 1.2 s; left out 5 expired</c>.</summary>
    internal static string Summary(string verb, CacheTransferResult result, string where, string expired, string unreadable, string existing)
    {
        var line = string.Create(
            CultureInfo.InvariantCulture,
            $"{verb} {Count(result.Responses, "response", "responses")}, {Count(result.VaryIndexes, "Vary index", "Vary indexes")}, {Count(result.Redirects, "redirect", "redirects")} ({ProgressPrinter.FormatBytes(result.Bytes)}) {where} in {result.Elapsed.TotalSeconds:F1} s");
        var left = new List<string>();
        if (result.SkippedExpired > 0)
        {
            left.Add(string.Create(CultureInfo.InvariantCulture, $"{result.SkippedExpired:N0} {expired}"));
        }

        if (result.SkippedUnreadable > 0)
        {
            left.Add(string.Create(CultureInfo.InvariantCulture, $"{result.SkippedUnreadable:N0} {unreadable}"));
        }

        if (result.SkippedExisting > 0)
        {
            left.Add(string.Create(CultureInfo.InvariantCulture, $"{result.SkippedExisting:N0} {existing}"));
        }

        return left.Count == 0 ? line : line + "; left out " + string.Join(", ", left);
    }

    private static string Count(long count, string one, string many)
        => string.Create(CultureInfo.InvariantCulture, $"{count:N0} {(count == 1 ? one : many)}");

    private static async Task<int> FailAsync(TextWriter error, string command, string path, Exception ex, bool cancelled)
    {
        var where = path == "-" ? (command == "export" ? "standard output" : "standard input") : $"'{path}'";
        switch (ex)
        {
            case OperationCanceledException when cancelled:
                await error.WriteLineAsync($"cachedhttp: {command} cancelled");
                return ExitCancelled;
            case CacheExportFormatException format:
                var imported = format.Progress is { Entries: > 0 } progress
                    ? string.Create(CultureInfo.InvariantCulture, $" ({progress.Entries:N0} entries before it were imported)")
                    : string.Empty;
                await error.WriteLineAsync($"cachedhttp: cannot import {where}: {format.Message}{imported}");
                return CliApp.ExitError;
            case FileNotFoundException or DirectoryNotFoundException when command == "import":
                await error.WriteLineAsync($"cachedhttp: cannot read {where}: no such file");
                return CliApp.ExitError;
            case DirectoryNotFoundException when command == "export":
                await error.WriteLineAsync($"cachedhttp: cannot write {where}: its folder does not exist");
                return CliApp.ExitError;
            case IOException or UnauthorizedAccessException:
                await error.WriteLineAsync($"cachedhttp: cannot {(command == "export" ? "write" : "read")} {where}: {FirstLine(ex.Message)}");
                return CliApp.ExitError;
            default:
                // A storage failure (a server down, a permission refused): one line, never a stack trace.
                await error.WriteLineAsync($"cachedhttp: {command} failed: {ex.GetType().Name}: {FirstLine(ex.Message)}");
                return CliApp.ExitError;
        }
    }

    private static string SinglePath(CliArguments args, string command, string standard)
        => args.Positional.Count switch
        {
            1 when args.Positional[0].Length > 0 => args.Positional[0],
            0 => throw new CliUsageException($"{command} needs a FILE (or - for {standard})"),
            _ => throw new CliUsageException($"{command} takes one FILE, not {args.Positional.Count}"),
        };

    private static void RejectFlags(CliArguments args, string command, params string[] flags)
    {
        foreach (var flag in flags)
        {
            if (args.Flags.Contains(flag))
            {
                throw new CliUsageException($"--{flag} is not an option of {command}");
            }
        }
    }

    /// <summary>The binary standard output: the console's (refused when it is a terminal), or the stream beneath a <see cref="StreamWriter"/>.</summary>
    private static Stream StandardOutput(TextWriter output)
    {
        if (ReferenceEquals(output, Console.Out))
        {
            if (!Console.IsOutputRedirected)
            {
                throw new CliUsageException("export - writes binary data to standard output, which is a terminal; redirect it (> FILE) or give a FILE");
            }

            return Console.OpenStandardOutput();
        }

        if (output is StreamWriter writer)
        {
            writer.Flush();
            return writer.BaseStream;
        }

        throw new CliUsageException("export - needs a standard output that is a byte stream; give a FILE");
    }

    private static CtrlC CancelOnCtrlC(TextWriter error) => new(ReferenceEquals(error, Console.Error));

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return (end < 0 ? message : message[..end]).Trim();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the partial file is incomplete and an import would reject it.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Cancels on Ctrl+C while it lives, when running on the real console (an export's partial file is then removed).</summary>
    private sealed class CtrlC : IDisposable
    {
        private readonly CancellationTokenSource _source = new();
        private readonly bool _console;

        public CtrlC(bool console)
        {
            _console = console;
            if (console)
            {
                Console.CancelKeyPress += OnCancelKeyPress;
            }
        }

        public CancellationToken Token => _source.Token;

        public bool IsCancellationRequested => _source.IsCancellationRequested;

        public void Dispose()
        {
            if (_console)
            {
                Console.CancelKeyPress -= OnCancelKeyPress;
            }

            _source.Dispose();
        }

        private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            _source.Cancel();
        }
    }
}
