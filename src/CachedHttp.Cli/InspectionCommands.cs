using System.Globalization;
using System.Text.Json;

namespace CachedHttp.Cli;

/// <summary>The <c>ls</c>, <c>stats</c> and <c>rm</c> commands, and the filter options they share.</summary>
internal static class InspectionCommands
{
    /// <summary>The options that select entries: <c>ls</c> lists and <c>rm</c> deletes what they match.</summary>
    public static readonly string[] FilterOptions = ["expired", "older-than", "url", "status"];

    /// <summary>The filter options that take a value (<c>--older-than</c> is one of the shared value options already).</summary>
    public static readonly HashSet<string> ValueOptions = ["url", "status"];

    public static async Task<int> ListAsync(CacheBackend backend, CliArguments args, TextWriter output)
    {
        var filter = ParseFilter(args);
        if (args.Positional.Count > 0)
        {
            throw new CliUsageException($"ls takes no arguments (got '{args.Positional[0]}'); select with --url GLOB, --status CODE, --expired or --older-than AGE");
        }

        var now = backend.Options.TimeProvider.GetUtcNow();
        var rows = new List<EntryRow>();
        await foreach (var entry in backend.GetEntriesAsync(filter))
        {
            var vary = entry.VaryValues.Count == 0 ? null : entry.VaryValues.ToDictionary(f => f.Key, f => string.Join(", ", f.Value), StringComparer.OrdinalIgnoreCase);
            rows.Add(new EntryRow(entry.Key, entry.Method, entry.Url.OriginalString, (int)entry.StatusCode, entry.BodySize, entry.StoredSize, entry.CreatedAt, entry.ExpiresAt, entry.LastUsedAt, entry.IsExpired(now), vary));
        }

        rows.Sort((a, b) => string.CompareOrdinal(a.Url, b.Url) is var byUrl and not 0 ? byUrl : string.CompareOrdinal(a.Method, b.Method));
        if (args.Flags.Contains("json"))
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(rows, CliJsonContext.Default.ListEntryRow));
            return CliApp.ExitOk;
        }

        // Optional columns appear only when some entry has a value: last use (storages that track it), Vary (variants).
        var lastUsed = rows.Any(r => r.LastUsedAt is not null);
        var varies = rows.Any(r => r.Vary is not null);
        List<string> headers = ["METHOD", "URL", "STATUS", "SIZE", "AGE", "EXPIRES"];
        headers.AddRange([.. lastUsed ? ["LAST USED"] : Array.Empty<string>(), .. varies ? ["VARY"] : Array.Empty<string>()]);
        var table = new TextTable([.. headers]);
        foreach (var row in rows)
        {
            var expires = row.ExpiresAt is { } at ? (row.Expired ? "expired" : "in " + CliApp.FormatAge(at - now)) : "never";
            List<string> cells = [row.Method, row.Url, row.Status.ToString(CultureInfo.InvariantCulture), CliApp.FormatSize(row.Size), CliApp.FormatAge(now - row.CreatedAt), expires];
            if (lastUsed)
            {
                cells.Add(row.LastUsedAt is { } used ? CliApp.FormatAge(now - used) + " ago" : "-");
            }

            if (varies)
            {
                cells.Add(row.Vary is null ? "-" : string.Join("; ", row.Vary.Select(v => $"{v.Key}={v.Value}")));
            }

            table.Add([.. cells]);
        }

        await table.WriteAsync(output);
        await output.WriteLineAsync($"{rows.Count} response(s), {CliApp.FormatSize(rows.Sum(r => r.Size))}");
        return CliApp.ExitOk;
    }

    public static async Task<int> StatsAsync(CacheBackend backend, CliArguments args, TextWriter output)
    {
        var statistics = await backend.GetStatisticsAsync();
        if (args.Flags.Contains("json"))
        {
            var stats = new Stats(
                statistics.Backend,
                statistics.ResponseCount,
                statistics.ExpiredCount,
                statistics.VaryIndexCount,
                statistics.RedirectCount,
                statistics.UnreadableCount,
                statistics.TotalBytes,
                statistics.ResponseBytes,
                statistics.RedirectBytes,
                statistics.BodyBytes,
                statistics.OldestCreatedAt,
                statistics.NewestCreatedAt);
            await output.WriteLineAsync(JsonSerializer.Serialize(stats, CliJsonContext.Default.Stats));
            return CliApp.ExitOk;
        }

        var now = backend.Options.TimeProvider.GetUtcNow();
        await output.WriteLineAsync($"backend:   {statistics.Backend}");
        await output.WriteLineAsync($"responses: {statistics.ResponseCount} ({statistics.ExpiredCount} expired)");
        await output.WriteLineAsync($"redirects: {statistics.RedirectCount}");
        if (statistics.VaryIndexCount > 0)
        {
            await output.WriteLineAsync($"vary:      {statistics.VaryIndexCount} URL(s) with variants");
        }

        if (statistics.UnreadableCount > 0)
        {
            await output.WriteLineAsync($"skipped:   {statistics.UnreadableCount} unreadable value(s) (corrupt, or written with other keys; 'rm --expired' removes them)");
        }

        await output.WriteLineAsync($"bytes:     {statistics.TotalBytes} ({CliApp.FormatSize(statistics.TotalBytes)}): responses {statistics.ResponseBytes}, redirects {statistics.RedirectBytes}; bodies {statistics.BodyBytes}");
        if (statistics.OldestCreatedAt is { } oldest && statistics.NewestCreatedAt is { } newest)
        {
            await output.WriteLineAsync($"oldest:    {oldest.UtcDateTime:u} ({CliApp.FormatAge(now - oldest)} ago)");
            await output.WriteLineAsync($"newest:    {newest.UtcDateTime:u} ({CliApp.FormatAge(now - newest)} ago)");
        }

        return CliApp.ExitOk;
    }

    public static async Task<int> RemoveAsync(CacheBackend backend, CliArguments args, TextWriter output)
    {
        var filter = ParseFilter(args);
        var urls = args.Positional;
        if (urls.Count == 0 && filter is null)
        {
            throw new CliUsageException("rm needs URLs, or what to remove: --expired, --older-than AGE, --url GLOB, --status CODE");
        }

        // Every argument is checked before anything is removed.
        foreach (var url in urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliUsageException($"'{url}' is not an absolute http(s) URL (to remove by pattern, use --url GLOB)");
            }
        }

        var removed = 0;
        if (urls.Count > 0)
        {
            removed += await backend.DeleteUrlsAsync(urls);
        }

        if (filter is not null)
        {
            // --expired alone is the expiry sweep, which also removes values that can never be read.
            var expiredOnly = filter.Expired == true && filter.OlderThan is null && filter.UrlPattern is null && filter.StatusCodes is null;
            removed += expiredOnly
                ? await backend.DeleteExpiredResponsesAsync()
                : await backend.DeleteAsync(filter);
        }

        await output.WriteLineAsync($"removed {removed}");
        return CliApp.ExitOk;
    }

    /// <summary>The filter the options describe, or null when none is given.</summary>
    /// <exception cref="CliUsageException">An option value is invalid.</exception>
    public static CacheEntryFilter? ParseFilter(CliArguments args)
    {
        if (!FilterOptions.Any(option => args.Flags.Contains(option) || args.Values.ContainsKey(option)))
        {
            return null;
        }

        var filter = new CacheEntryFilter { Expired = args.Flags.Contains("expired") ? true : null };
        if (args.Get("older-than") is { } olderThan)
        {
            filter = filter with { OlderThan = ParseAge(olderThan) };
        }

        if (args.Get("url") is { } pattern)
        {
            filter = filter with { UrlPattern = string.IsNullOrWhiteSpace(pattern) ? throw new CliUsageException("--url needs a pattern, such as 'example.com/api/*'") : pattern.Trim() };
        }

        if (args.Get("status") is { } status)
        {
            filter = filter with { StatusCodes = ParseStatusCodes(status) };
        }

        return filter;
    }

    /// <summary>A duration such as 90s, 15m, 2h, 1d, a number of seconds, or 00:15:00.</summary>
    internal static TimeSpan ParseAge(string text)
    {
        if (Expiration.TryParse(text, out var age))
        {
            switch (age.Kind)
            {
                case ExpirationKind.After:
                    return age.TimeSpan;
                case ExpirationKind.DoNotCache or ExpirationKind.ExpireImmediately when text.Trim() is "0" or "0s":
                    return TimeSpan.Zero;
            }
        }

        throw new CliUsageException($"--older-than: '{text}' is not a duration such as 90s, 15m, 2h or 1d");
    }

    /// <summary>Status codes: 200, a list 200,404, or classes such as 4xx.</summary>
    internal static List<int> ParseStatusCodes(string text)
    {
        var codes = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 3 && part[0] is >= '1' and <= '5' && part[1..].Equals("xx", StringComparison.OrdinalIgnoreCase))
            {
                var first = (part[0] - '0') * 100;
                codes.AddRange(Enumerable.Range(first, 100));
            }
            else if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 100 and <= 999)
            {
                codes.Add(code);
            }
            else
            {
                throw new CliUsageException($"--status: '{part}' is not a status code such as 200, 404 or 4xx");
            }
        }

        return codes;
    }
}

public sealed record EntryRow(string Key, string Method, string Url, int Status, long Size, long StoredSize, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, bool Expired, Dictionary<string, string>? Vary);

public sealed record Stats(
    string Backend,
    long Responses,
    long Expired,
    long VaryIndexes,
    long Redirects,
    long Unreadable,
    long Bytes,
    long ResponseBytes,
    long RedirectBytes,
    long BodyBytes,
    DateTimeOffset? OldestCreatedAt,
    DateTimeOffset? NewestCreatedAt);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<EntryRow>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Stats))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
