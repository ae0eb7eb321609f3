using System.Text.Json;
using CachedHttp.Cli;
using CachedHttp.Tests.Integration.Foundation;

namespace CachedHttp.Tests.Integration.Cli;

/// <summary>The cachedhttp tool end to end: real origin, real SQLite file.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class CliTests : OriginFixture
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CliApp.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static string TempCache() => "sqlite:" + Path.Combine(Path.GetTempPath(), "cachedhttp-cli-" + Guid.NewGuid().ToString("N") + ".sqlite");

    [Test]
    public async Task Get_Twice_SecondIsAHit_AndLsStatsRmClearSeeIt()
    {
        var cache = TempCache();
        var url = Origin.Url("/json?u=" + Unique()).AbsoluteUri;

        var first = await RunAsync("get", url, "--cache", cache);
        first.Exit.Should().Be(0);
        first.Out.Should().Contain("\"message\"");
        first.Err.Should().StartWith("cache: miss");

        var second = await RunAsync("get", url, "--cache", cache, "-i");
        second.Exit.Should().Be(0);
        second.Out.Should().StartWith("HTTP/1.1 200");
        second.Err.Should().StartWith("cache: hit");

        var list = await RunAsync("ls", "--json", "--cache", cache);
        list.Exit.Should().Be(0);
        using (var json = JsonDocument.Parse(list.Out))
        {
            json.RootElement.GetArrayLength().Should().Be(1);
            json.RootElement[0].GetProperty("url").GetString().Should().Be(url);
            json.RootElement[0].GetProperty("status").GetInt32().Should().Be(200);
        }

        var table = await RunAsync("ls", "--cache", cache);
        table.Out.Should().Contain(url).And.Contain("1 response(s)");

        var stats = await RunAsync("stats", "--cache", cache);
        stats.Out.Should().Contain("responses: 1");

        var removed = await RunAsync("rm", url, "--cache", cache);
        removed.Out.Should().Contain("removed 1");
        (await RunAsync("stats", "--cache", cache)).Out.Should().Contain("responses: 0");

        (await RunAsync("get", url, "--cache", cache, "--expire", "1h")).Err.Should().StartWith("cache: miss");
        (await RunAsync("clear", "--cache", cache)).Out.Should().Contain("cleared");
        (await RunAsync("stats", "--cache", cache)).Out.Should().Contain("responses: 0");
        Origin.Requests("/json").Should().BeGreaterThanOrEqualTo(2);
    }

    [Test]
    public async Task Get_WithRefresh_Revalidates()
    {
        var cache = TempCache();
        var url = Origin.Url("/etag/" + Unique()).AbsoluteUri;
        await RunAsync("get", url, "--cache", cache);
        var refreshed = await RunAsync("get", url, "--cache", cache, "--refresh");
        refreshed.Exit.Should().Be(0);
        refreshed.Err.Should().StartWith("cache: revalidated");
    }

    [Test]
    public async Task Rm_Expired_RemovesOnlyExpired()
    {
        var cache = TempCache();
        var shortUrl = Origin.Url("/echo/" + Unique()).AbsoluteUri;
        var longUrl = Origin.Url("/echo/" + Unique()).AbsoluteUri;
        await RunAsync("get", shortUrl, "--cache", cache, "--expire", "1ms");
        await RunAsync("get", longUrl, "--cache", cache, "--expire", "1h");
        await Task.Delay(50);
        var removed = await RunAsync("rm", "--expired", "--cache", cache);
        removed.Exit.Should().Be(0);
        var list = await RunAsync("ls", "--json", "--cache", cache);
        list.Out.Should().Contain(longUrl).And.NotContain(shortUrl);
    }

    [Test]
    public async Task Ls_Filters_SelectByExpiryAgeUrlAndStatus()
    {
        var cache = TempCache();
        var tag = Unique();
        var fresh = Origin.Url($"/echo/{tag}-fresh").AbsoluteUri;
        var stale = Origin.Url($"/etag/{tag}-stale").AbsoluteUri; // an ETag keeps an expired response stored (for revalidation)
        var other = Origin.Url($"/json?u={tag}").AbsoluteUri;
        await RunAsync("get", fresh, "--cache", cache, "--expire", "1h");
        await RunAsync("get", stale, "--cache", cache, "--expire", "1ms");
        await RunAsync("get", other, "--cache", cache);
        await Task.Delay(50);
        var host = Origin.BaseAddress.Authority;

        async Task<string[]> ListedUrls(params string[] options)
        {
            var result = await RunAsync(["ls", "--json", "--cache", cache, .. options]);
            result.Exit.Should().Be(0, result.Err);
            using var json = JsonDocument.Parse(result.Out);
            return json.RootElement.EnumerateArray().Select(e => e.GetProperty("url").GetString()!).ToArray();
        }

        (await ListedUrls()).Should().BeEquivalentTo([fresh, stale, other]);
        (await ListedUrls("--expired")).Should().Equal(stale);
        (await ListedUrls("--url", $"{host}/e*/{tag}-*")).Should().BeEquivalentTo([fresh, stale]);
        (await ListedUrls("--url", $"http://{host}/JSON")).Should().Equal(other);
        (await ListedUrls("--status", "200", "--expired")).Should().Equal(stale);
        (await ListedUrls("--status", "4xx")).Should().BeEmpty();
        (await ListedUrls("--older-than", "1h")).Should().BeEmpty();
        (await ListedUrls("--older-than", "0")).Should().HaveCount(3);
    }

    [Test]
    public async Task Ls_Table_ShowsUrlStatusSizeAgeAndExpiry_AndJsonHasEveryField()
    {
        var cache = TempCache();
        var url = Origin.Url("/echo/" + Unique()).AbsoluteUri;
        await RunAsync("get", url, "--cache", cache, "--expire", "2h");

        var table = await RunAsync("ls", "--cache", cache);
        var json = await RunAsync("ls", "--cache", cache, "--json");

        table.Exit.Should().Be(0);
        var lines = table.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].Should().StartWith("METHOD").And.Contain("URL").And.Contain("STATUS").And.Contain("SIZE").And.Contain("AGE").And.Contain("EXPIRES");
        lines[1].Should().Contain("GET").And.Contain(url).And.Contain(" 200 ").And.Contain(" B").And.Contain("in 1").And.NotContain("never");
        lines[^1].Should().StartWith("1 response(s), ");
        using var document = JsonDocument.Parse(json.Out);
        var row = document.RootElement[0];
        foreach (var property in new[] { "key", "method", "url", "status", "size", "storedSize", "createdAt", "expiresAt", "lastUsedAt", "expired" })
        {
            row.TryGetProperty(property, out _).Should().BeTrue(property);
        }

        row.GetProperty("size").GetInt64().Should().BeGreaterThan(0);
        row.GetProperty("storedSize").GetInt64().Should().BeGreaterThan(row.GetProperty("size").GetInt64());
        row.GetProperty("expired").GetBoolean().Should().BeFalse();
    }

    [Test]
    public async Task Rm_Filters_RemoveWhatLsWithTheSameFiltersLists()
    {
        var cache = TempCache();
        var tag = Unique();
        var api = Origin.Url($"/echo/{tag}/api").AbsoluteUri;
        var web = Origin.Url($"/echo/{tag}/web").AbsoluteUri;
        var json = Origin.Url($"/json?u={tag}").AbsoluteUri;
        foreach (var url in new[] { api, web, json })
        {
            await RunAsync("get", url, "--cache", cache);
        }

        var host = Origin.BaseAddress.Authority;
        var preview = await RunAsync("ls", "--url", $"{host}/echo/{tag}/a*", "--cache", cache);
        var removed = await RunAsync("rm", "--url", $"{host}/echo/{tag}/a*", "--cache", cache);

        preview.Out.Should().Contain("1 response(s)");
        removed.Exit.Should().Be(0, removed.Err);
        removed.Out.Should().Contain("removed 1");
        var left = await RunAsync("ls", "--json", "--cache", cache);
        left.Out.Should().Contain(web).And.Contain(json).And.NotContain(api);

        (await RunAsync("rm", "--status", "404", "--cache", cache)).Out.Should().Contain("removed 0");
        await Task.Delay(20);
        (await RunAsync("rm", "--older-than", "10ms", "--status", "200", "--cache", cache)).Out.Should().Contain("removed 2");
        (await RunAsync("stats", "--cache", cache)).Out.Should().Contain("responses: 0");
    }

    [Test]
    public async Task Rm_UrlsAndFilterTogether_RemoveBoth()
    {
        var cache = TempCache();
        var first = Origin.Url("/echo/" + Unique()).AbsoluteUri;
        var second = Origin.Url("/json?u=" + Unique()).AbsoluteUri;
        var expiring = Origin.Url("/etag/" + Unique()).AbsoluteUri;
        await RunAsync("get", first, "--cache", cache);
        await RunAsync("get", second, "--cache", cache);
        await RunAsync("get", expiring, "--cache", cache, "--expire", "1ms");
        await Task.Delay(50);

        var removed = await RunAsync("rm", first, "--expired", "--cache", cache);

        removed.Out.Should().Contain("removed 2");
        (await RunAsync("ls", "--json", "--cache", cache)).Out.Should().Contain(second).And.NotContain(first).And.NotContain(expiring);
    }

    [Test]
    public async Task Stats_CountsResponsesRedirectsAndBytes()
    {
        var cache = TempCache();
        await RunAsync("get", Origin.Url("/redirect/1?t=" + Unique()).AbsoluteUri, "--cache", cache);
        await RunAsync("get", Origin.Url("/etag/" + Unique()).AbsoluteUri, "--cache", cache, "--expire", "1ms");
        await Task.Delay(50);

        var text = await RunAsync("stats", "--cache", cache);
        var json = await RunAsync("stats", "--json", "--cache", cache);

        text.Exit.Should().Be(0);
        text.Out.Should().Contain("backend:   sqlite").And.Contain("responses: 2 (1 expired)").And.Contain("redirects: 1").And.Contain("bytes:").And.Contain("oldest:");
        using var document = JsonDocument.Parse(json.Out);
        var root = document.RootElement;
        root.GetProperty("responses").GetInt64().Should().Be(2);
        root.GetProperty("expired").GetInt64().Should().Be(1);
        root.GetProperty("redirects").GetInt64().Should().Be(1);
        root.GetProperty("unreadable").GetInt64().Should().Be(0);
        root.GetProperty("bytes").GetInt64().Should().Be(root.GetProperty("responseBytes").GetInt64() + root.GetProperty("redirectBytes").GetInt64());
        root.GetProperty("bodyBytes").GetInt64().Should().BeGreaterThan(0).And.BeLessThan(root.GetProperty("responseBytes").GetInt64());
    }

    [TestCase("ls", "--older-than", "soon")]
    [TestCase("ls", "--older-than", "-1")]
    [TestCase("rm", "--older-than", "2026-01-01")]
    [TestCase("ls", "--status", "abc")]
    [TestCase("rm", "--status", "1000")]
    [TestCase("rm", "--status", "200,")]
    [TestCase("ls", "--url", " ")]
    [TestCase("ls", "--url")]
    [TestCase("ls", "stray-argument")]
    [TestCase("rm")]
    [TestCase("rm", "not-a-url")]
    [TestCase("rm", "ftp://example.com/file")]
    [TestCase("rm", "--expired=yes")]
    public async Task InspectionCommands_BadArguments_OneClearLine_ExitTwo(params string[] args)
    {
        var result = await RunAsync([.. args, "--cache", "memory"]);

        result.Exit.Should().Be(2);
        result.Err.Should().StartWith("cachedhttp: ").And.NotContain("   at ").And.NotContain("Exception");
        result.Err.Trim().Split('\n').Should().HaveCountLessThanOrEqualTo(2, "one line, and perhaps the pointer to --help");
        result.Out.Should().BeEmpty();
    }

    [Test]
    public async Task Rm_BadUrlAmongGoodOnes_RemovesNothing()
    {
        var cache = TempCache();
        var url = Origin.Url("/echo/" + Unique()).AbsoluteUri;
        await RunAsync("get", url, "--cache", cache);

        var result = await RunAsync("rm", url, "relative/path", "--cache", cache);

        result.Exit.Should().Be(2);
        result.Err.Should().Contain("'relative/path'");
        (await RunAsync("ls", "--json", "--cache", cache)).Out.Should().Contain(url);
    }

    [TestCase("nosuch:thing")]
    [TestCase("sqlite:")]
    [TestCase("redis:")]
    public async Task BadCacheSpec_IsOneClearLine_ExitTwo(string spec)
    {
        var result = await RunAsync("stats", "--cache", spec);
        result.Exit.Should().Be(2);
        result.Err.Trim().Split('\n').Should().HaveCount(1);
        result.Err.Should().StartWith("cachedhttp: cannot open the cache:");
        result.Err.Should().NotContain("   at ");
    }

    [TestCase("frobnicate")]
    [TestCase("get")]
    public async Task UsageErrors_ExitTwo_WithoutStackTrace(string command)
    {
        var result = await RunAsync(command, "--cache", "memory");
        result.Exit.Should().Be(2);
        result.Err.Should().StartWith("cachedhttp: ").And.NotContain("   at ");
    }

    [Test]
    public async Task UnknownOption_ExitTwo()
    {
        var result = await RunAsync("ls", "--colour");
        result.Exit.Should().Be(2);
        result.Err.Should().Contain("unknown option '--colour'");
    }

    [Test]
    public async Task Get_ErrorStatus_ExitOne()
    {
        var result = await RunAsync("get", Origin.Url("/status/500").AbsoluteUri, "--cache", "memory");
        result.Exit.Should().Be(1);
    }

    [Test]
    public async Task Demo_SecondRun_IsServedFromTheCacheTheFirstWrote()
    {
        var cache = TempCache();
        var first = await RunAsync("demo", "--cache", cache, "--port", "0");
        first.Exit.Should().Be(0);
        first.Out.Should().Contain("miss").And.Contain("hit");
        var second = await RunAsync("demo", "--cache", cache, "--port", "0");
        second.Exit.Should().Be(0, second.Err);
    }
}
