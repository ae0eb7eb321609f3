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
