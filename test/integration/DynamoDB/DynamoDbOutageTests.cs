using System.Net;
using CachedHttp.DynamoDB;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>A DynamoDB outage never fails a request: the cache fails open and recovers when the server is back.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbOutageTests
{
    [Test]
    public async Task Request_DynamoDbUnreachable_StillSucceedsFromTheNetwork()
    {
        // Nothing listens on port 1: every storage call fails at once.
        using var backend = new DynamoDbBackend(new DynamoDbCacheOptions
        {
            ServiceUrl = "http://127.0.0.1:1",
            Region = "us-east-1",
            Credentials = DynamoDbServer.Credentials,
            OperationTimeout = TimeSpan.FromSeconds(2),
        });
        var calls = 0;
        using var http = new HttpClient(new CachingHandler(backend, new StubHandler(() => Interlocked.Increment(ref calls))));

        for (var i = 0; i < 2; i++)
        {
            using var response = await http.GetAsync("http://origin.test/outage");
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            response.IsFromCache().Should().BeFalse();
            (await response.Content.ReadAsStringAsync()).Should().Be("hello");
        }

        calls.Should().Be(2, "without storage every request goes to the network");
    }

    [Test]
    public async Task Request_DynaliteStoppedAndRestarted_FailsOpenThenCachesAgain()
    {
        await using var dynalite = await DynaliteProcess.StartOrIgnoreAsync();
        using var backend = new DynamoDbBackend(new DynamoDbCacheOptions
        {
            TableName = "cachedhttp-outage",
            ServiceUrl = dynalite.Url,
            Region = "us-east-1",
            Credentials = DynamoDbServer.Credentials,
            OperationTimeout = TimeSpan.FromSeconds(3),
        });
        var calls = 0;
        using var http = new HttpClient(new CachingHandler(backend, new StubHandler(() => Interlocked.Increment(ref calls))));

        async Task<bool> GetAsync(string path)
        {
            using var response = await http.GetAsync("http://origin.test" + path);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            (await response.Content.ReadAsStringAsync()).Should().Be("hello");
            return response.IsFromCache();
        }

        (await GetAsync("/a")).Should().BeFalse();
        (await GetAsync("/a")).Should().BeTrue();
        calls.Should().Be(1);

        await dynalite.StopAsync();
        (await GetAsync("/a")).Should().BeFalse("the storage is down: served from the network, not an exception");
        (await GetAsync("/b")).Should().BeFalse();
        calls.Should().Be(3);

        await dynalite.StartAsync();
        (await GetAsync("/a")).Should().BeTrue("dynalite kept its data on disk, and the client reconnects");
        (await GetAsync("/b")).Should().BeFalse("its write failed during the outage");
        (await GetAsync("/b")).Should().BeTrue();
        calls.Should().Be(4);
    }
}
