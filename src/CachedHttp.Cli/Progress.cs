using System.Globalization;

namespace CachedHttp.Cli;

/// <summary>
/// Shows the progress of an export or import on stderr: one line rewritten in place when stderr is a terminal, a plain
/// line every <see cref="PlainInterval"/> otherwise (logs, CI), so that a long transfer shows it is alive either way.
/// </summary>
internal sealed class ProgressPrinter(TextWriter error, string verb, bool terminal) : IProgress<CacheTransferProgress>
{
    /// <summary>The least time between two plain lines.</summary>
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);

    private int _lineLength;
    private TimeSpan _lastPlainLine;

    /// <summary>Gets a value indicating whether the line is rewritten in place.</summary>
    public bool IsTerminal => terminal;

    /// <summary>A printer for the real stderr (a terminal unless redirected), or a plain one for any other writer.</summary>
    public static ProgressPrinter For(TextWriter error, string verb)
        => new(error, verb, ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected);

    public void Report(CacheTransferProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value is CacheTransferResult)
        {
            return; // the final numbers go to the summary line
        }

        var line = Describe(verb, value);
        if (terminal)
        {
            error.Write("\r" + line.PadRight(_lineLength));
            error.Flush();
            _lineLength = line.Length;
        }
        else if (value.Elapsed - _lastPlainLine >= PlainInterval)
        {
            _lastPlainLine = value.Elapsed;
            error.WriteLine(line);
        }
    }

    /// <summary>Clears the line rewritten in place, so that what follows starts on a clean line.</summary>
    public void Finish()
    {
        if (terminal && _lineLength > 0)
        {
            error.Write("\r" + new string(' ', _lineLength) + "\r");
            error.Flush();
            _lineLength = 0;
        }
    }

    /// <summary>One progress line: <c>exporting: 12,345 entries, 45.6 MB (1,234 entries/s, 4.5 MB/s)</c>.</summary>
    public static string Describe(string verb, CacheTransferProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var seconds = progress.Elapsed.TotalSeconds;
        var rate = seconds > 0
            ? string.Create(CultureInfo.InvariantCulture, $" ({progress.Entries / seconds:N0} entries/s, {FormatBytes((long)(progress.Bytes / seconds))}/s)")
            : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{verb}: {progress.Entries:N0} entries, {FormatBytes(progress.Bytes)}{rate}");
    }

    /// <summary>A size in B, KB, MB or GB (1024-based), invariant culture.</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0 / 1024.0:F1} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0 / 1024.0 / 1024.0:F2} GB"),
    };
}
