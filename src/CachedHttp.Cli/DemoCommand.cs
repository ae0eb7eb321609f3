using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CachedHttp.Cli;

/// <summary><c>cachedhttp demo</c>: a local origin, a few URLs fetched twice, a table of hits and misses.</summary>
internal static class DemoCommand
{
    private static readonly string[] Paths = ["/weather", "/articles/42", "/bytes/65536", "/old-link", "/slow-report"];

    public static async Task<int> RunAsync(CacheBackend backend, CliArguments args, TextWriter output)
    {
        var port = 58117;
        if (args.Get("port") is { } text && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new CliUsageException($"'{text}' is not a port number");
        }

        await using var origin = await StartOriginAsync(port);
        var baseAddress = new Uri(origin.Urls.First());
        using var session = new CachedSession(backend, disposeHandler: true) { BaseAddress = baseAddress };
        await output.WriteLineAsync($"cache:  {backend.Name} ({Describe(backend)})");
        await output.WriteLineAsync($"origin: {baseAddress}");
        await output.WriteLineAsync();

        var table = new TextTable("PASS", "URL", "STATUS", "CACHE", "TIME");
        var fromEarlierRun = 0;
        for (var pass = 1; pass <= 2; pass++)
        {
            foreach (var path in Paths)
            {
                var stopwatch = Stopwatch.StartNew();
                using var response = await session.GetAsync(path, Expiration.After(TimeSpan.FromHours(1)));
                await response.Content.ReadAsByteArrayAsync();
                stopwatch.Stop();
                var info = response.GetCacheInfo();
                if (pass == 1 && info.FromCache)
                {
                    fromEarlierRun++;
                }

                table.Add(pass.ToString(CultureInfo.InvariantCulture), path, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), info.FromCache ? "hit" : "miss", $"{stopwatch.Elapsed.TotalMilliseconds,8:F1} ms");
            }
        }

        await table.WriteAsync(output);
        await output.WriteLineAsync();
        await output.WriteLineAsync(fromEarlierRun > 0
            ? $"{fromEarlierRun} of {Paths.Length} responses of the first pass came from the cache an earlier run wrote."
            : "The first pass went to the origin; the second was served from the cache. Run the demo again: a new process reads the same cache.");
        return CliApp.ExitOk;
    }

    private static string Describe(CacheBackend backend) => backend switch
    {
        Sqlite.SqliteBackend sqlite => sqlite.Path,
        FileBackend file => file.Directory,
        _ => "see --cache",
    };

    private static async Task<WebApplication> StartOriginAsync(int port)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(IPAddress.Loopback, port));
        builder.Logging.ClearProviders();
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        app.UseRouting();
        app.MapGet("/weather", async () => { await Task.Delay(120); return Results.Json(new { city = "Lisbon", celsius = 19 }); });
        app.MapGet("/articles/{id:int}", async (int id) => { await Task.Delay(80); return Results.Text($"Article {id}: caching, explained."); });
        app.MapGet("/bytes/{n:int}", (int n) => Results.Bytes(Enumerable.Range(0, n).Select(i => (byte)(i * 31 + 7)).ToArray(), "application/octet-stream"));
        app.MapGet("/old-link", () => Results.Redirect("/articles/42"));
        app.MapGet("/slow-report", async () => { await Task.Delay(400); return Results.Text("report ready"); });
        try
        {
            await app.StartAsync();
        }
        catch (IOException) when (port != 0)
        {
            await app.DisposeAsync();
            return await StartOriginAsync(0);
        }

        return app;
    }
}
