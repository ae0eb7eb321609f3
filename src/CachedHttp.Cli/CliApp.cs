using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace CachedHttp.Cli;

/// <summary>The <c>cachedhttp</c> command: fetch through a cache, inspect and purge it.</summary>
public static class CliApp
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    private const string Usage = """
        Usage: cachedhttp <command> [options]

        Commands:
          demo                 Start a local origin, fetch a few URLs twice, print a table of hits and misses
          get URL              Print a response body through the cache (-i: headers too)
          ls                   List stored responses: URL, status, size, age, expiry, last use (--json for JSON)
          stats                Count stored responses, redirects and bytes (--json for JSON)
          rm URL...            Delete stored responses by URL, and/or every response the filters select
          clear                Delete every stored response
          export FILE|-        Write the cache to an export file (- : standard output); progress on stderr
          import FILE|-        Read an export file (- : standard input) into the cache

        Options:
          --cache SPEC         memory | sqlite:PATH | file:DIR | redis:CONNECTION | mongodb:URI | dynamodb:TABLE[@URL]
                               (default: sqlite in the per-user cache folder; env CACHEDHTTP_CACHE)
          --expire EXP         Expiration of what get stores: -1 never, 0 do not cache, 90s, 15m, 2h, 1d, an HTTP-date
          --refresh            Revalidate the stored response (conditional request)
          -i, --include        Print the status line and headers (get)
          --json               JSON output (ls, stats)
          --expired            Select expired responses (ls, rm)
          --older-than AGE     Select responses stored more than AGE ago: 90s, 15m, 2h, 1d (ls, rm)
          --url GLOB           Select URLs matching a glob, without scheme, as a prefix: 'example.com/api/*' (ls, rm)
          --status CODES       Select status codes: 200, 200,404 or 4xx (ls, rm)
          --port N             Port of the demo origin (default 58117; 0 picks a free one)
          --include-expired    Export expired responses too (kept for revalidation or stale-if-error)
          --gzip               Compress the export (also when FILE ends in .gz; import detects it)
          --skip-existing      Import: keep the entries the cache already has (default: replace them)
          --quiet              Export, import: no progress and no summary, errors only
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        CliArguments parsed;
        try
        {
            parsed = CliArguments.Parse(args);
        }
        catch (CliUsageException ex)
        {
            await error.WriteLineAsync($"cachedhttp: {ex.Message}");
            await error.WriteLineAsync("Run 'cachedhttp --help' for usage.");
            return ExitUsage;
        }

        if (parsed.Command is null or "help" || parsed.Flags.Contains("help"))
        {
            await output.WriteLineAsync(Usage);
            return parsed.Command is null && !parsed.Flags.Contains("help") ? ExitUsage : ExitOk;
        }

        CacheBackend backend;
        try
        {
            backend = CacheSpec.Open(parsed.Get("cache") ?? Environment.GetEnvironmentVariable("CACHEDHTTP_CACHE"));
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            await error.WriteLineAsync($"cachedhttp: cannot open the cache: {ex.Message}");
            return ExitUsage;
        }

        try
        {
            return parsed.Command switch
            {
                "demo" => await DemoCommand.RunAsync(backend, parsed, output),
                "get" => await GetAsync(backend, parsed, output, error),
                "ls" => await InspectionCommands.ListAsync(backend, parsed, output),
                "stats" => await InspectionCommands.StatsAsync(backend, parsed, output),
                "rm" => await InspectionCommands.RemoveAsync(backend, parsed, output),
                "clear" => await ClearAsync(backend, output),
                "export" => await ExportCommands.ExportAsync(backend, parsed, output, error),
                "import" => await ExportCommands.ImportAsync(backend, parsed, error),
                _ => await UnknownAsync(parsed.Command, error),
            };
        }
        catch (CliUsageException ex)
        {
            await error.WriteLineAsync($"cachedhttp: {ex.Message}");
            return ExitUsage;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"cachedhttp: request failed: {ex.Message}");
            return ExitError;
        }
        finally
        {
            await backend.DisposeAsync();
        }
    }

    private static async Task<int> UnknownAsync(string command, TextWriter error)
    {
        await error.WriteLineAsync($"cachedhttp: unknown command '{command}'. Run 'cachedhttp --help' for usage.");
        return ExitUsage;
    }

    private static async Task<int> GetAsync(CacheBackend backend, CliArguments args, TextWriter output, TextWriter error)
    {
        var url = args.Positional.FirstOrDefault() ?? throw new CliUsageException("get needs a URL");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"'{url}' is not an absolute http(s) URL");
        }

        using var session = new CachedSession(backend, disposeHandler: true);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (args.Get("expire") is { } expire)
        {
            request.SetExpireAfter(Expiration.TryParse(expire, out var expiration) ? expiration : throw new CliUsageException($"'{expire}' is not an expiration"));
        }

        if (args.Flags.Contains("refresh"))
        {
            request.SetRefresh();
        }

        var stopwatch = Stopwatch.StartNew();
        using var response = await session.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        stopwatch.Stop();
        var info = response.GetCacheInfo();
        if (args.Flags.Contains("include"))
        {
            await output.WriteLineAsync($"HTTP/{response.Version} {(int)response.StatusCode} {response.ReasonPhrase}");
            foreach (var header in response.Headers.Concat(response.Content.Headers))
            {
                await output.WriteLineAsync($"{header.Key}: {string.Join(", ", header.Value)}");
            }

            await output.WriteLineAsync();
        }

        await output.WriteLineAsync(body);
        await error.WriteLineAsync($"cache: {info.Status.ToString().ToLowerInvariant()} ({stopwatch.Elapsed.TotalMilliseconds:F1} ms)" + (info.ExpiresAt is { } at ? $", expires {at:u}" : string.Empty));
        return response.IsSuccessStatusCode ? ExitOk : ExitError;
    }

    private static async Task<int> ClearAsync(CacheBackend backend, TextWriter output)
    {
        await backend.ClearAsync();
        await output.WriteLineAsync("cleared");
        return ExitOk;
    }

    internal static string FormatSize(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:F1} KB",
        _ => $"{bytes / 1024.0 / 1024.0:F1} MB",
    };

    internal static string FormatAge(TimeSpan age) => age.TotalSeconds switch
    {
        < 0 => "0s",
        < 120 => $"{(int)age.TotalSeconds}s",
        < 7200 => $"{(int)age.TotalMinutes}m",
        < 172800 => $"{(int)age.TotalHours}h",
        _ => $"{(int)age.TotalDays}d",
    };
}
