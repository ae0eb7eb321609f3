using System.Diagnostics;
using System.Net;
using CachedHttp.Redis;
using CachedHttp.Testing;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>
/// Redis going away, coming back, or never answering, each on a dedicated redis-server: requests never fail because of
/// the cache (fail-open), never wait longer than the operation timeout allows, and caching resumes once Redis is back.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RedisOutageTests
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromSeconds(20);

    private TestOrigin _origin = null!;

    [OneTimeSetUp]
    public async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public async Task StopOrigin() => await _origin.DisposeAsync();

    [Test]
    public async Task Outage_ServerKilledThenRestarted_RequestsSucceedFromNetwork_ThenCachingResumes()
    {
        await using var server = await DedicatedRedisServer.StartAsync();
        await using var backend = new RedisBackend(server.Configuration, redisOptions: Options());
        using var session = NewSession(backend);
        var cached = Path();

        // Up: the second request is a hit.
        (await GetAsync(session, cached)).FromCache.Should().BeFalse();
        (await GetAsync(session, cached)).FromCache.Should().BeTrue();
        _origin.Requests(cached).Should().Be(1);

        // Down: a new URL and the cached one both come from the network, without an exception and without waiting.
        server.Kill();
        var fresh = Path();
        var newUrl = await GetAsync(session, fresh);
        var oldUrl = await GetAsync(session, cached);
        newUrl.FromCache.Should().BeFalse();
        oldUrl.FromCache.Should().BeFalse();
        _origin.Requests(fresh).Should().Be(1);
        _origin.Requests(cached).Should().Be(2);
        newUrl.Elapsed.Should().BeLessThan(3 * OperationTimeout);
        oldUrl.Elapsed.Should().BeLessThan(3 * OperationTimeout);
        TestContext.Out.WriteLine($"during the outage: {newUrl.Elapsed.TotalMilliseconds:0} ms, {oldUrl.Elapsed.TotalMilliseconds:0} ms");

        // Back: once the connection has reconnected by itself, responses are cached again.
        await server.RestartAsync();
        var reconnect = await WaitUntilConnectedAsync(backend.Connection);
        TestContext.Out.WriteLine($"reconnected {reconnect.TotalMilliseconds:0} ms after the restart");
        var after = Path();
        (await GetAsync(session, after)).FromCache.Should().BeFalse();
        (await GetAsync(session, after)).FromCache.Should().BeTrue();
        _origin.Requests(after).Should().Be(1);
    }

    [Test]
    public async Task Outage_PassedConnectionThatQueuesCommands_RequestsDoNotWaitForIt()
    {
        await using var server = await DedicatedRedisServer.StartAsync();

        // The caller's connection queues commands while disconnected and would wait 30 s for each.
        var configuration = ConfigurationOptions.Parse(server.Configuration);
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.Default;
        configuration.ConnectTimeout = 1000; // shortens its reconnection back-off, to keep the test short
        configuration.AsyncTimeout = 30_000;
        configuration.SyncTimeout = 30_000;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        await using var backend = new RedisBackend(connection, redisOptions: Options());
        using var session = NewSession(backend);
        var cached = Path();
        await GetAsync(session, cached);
        (await GetAsync(session, cached)).FromCache.Should().BeTrue();

        server.Kill();
        var fresh = await GetAsync(session, Path());
        var old = await GetAsync(session, cached);

        TestContext.Out.WriteLine($"during the outage: {fresh.Elapsed.TotalMilliseconds:0} ms, {old.Elapsed.TotalMilliseconds:0} ms");
        fresh.FromCache.Should().BeFalse();
        old.FromCache.Should().BeFalse();
        _origin.Requests(cached).Should().Be(2);

        // A miss is three storage calls (lookup, lookup again under request coalescing, save): none may wait longer
        // than the operation timeout, and once the connection knows it is down, none waits at all.
        fresh.Elapsed.Should().BeLessThan(3 * OperationTimeout + TimeSpan.FromSeconds(1));
        old.Elapsed.Should().BeLessThan(3 * OperationTimeout + TimeSpan.FromSeconds(1));

        await server.RestartAsync();
        var reconnect = await WaitUntilConnectedAsync(connection);
        TestContext.Out.WriteLine($"reconnected {reconnect.TotalMilliseconds:0} ms after the restart");
        var after = Path();
        await GetAsync(session, after);
        (await GetAsync(session, after)).FromCache.Should().BeTrue();
    }

    [Test]
    public async Task Backend_CreatedWhileServerIsDown_ServesFromNetwork_ThenCachesOnceServerIsUp()
    {
        await using var server = await DedicatedRedisServer.StartAsync();
        server.Kill();

        var started = Stopwatch.StartNew();
        await using var backend = new RedisBackend(server.Configuration, redisOptions: Options());
        TestContext.Out.WriteLine($"created in {started.Elapsed.TotalMilliseconds:0} ms");
        started.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "creating the backend does not wait for a server that refuses connections");
        backend.Connection.IsConnected.Should().BeFalse();
        using var session = NewSession(backend);
        var path = Path();

        var first = await GetAsync(session, path);
        var second = await GetAsync(session, path);

        first.FromCache.Should().BeFalse();
        second.FromCache.Should().BeFalse();
        _origin.Requests(path).Should().Be(2);
        second.Elapsed.Should().BeLessThan(3 * OperationTimeout);

        await server.RestartAsync();
        var reconnect = await WaitUntilConnectedAsync(backend.Connection);
        TestContext.Out.WriteLine($"connected {reconnect.TotalMilliseconds:0} ms after the server started");
        var later = Path();
        (await GetAsync(session, later)).FromCache.Should().BeFalse();
        (await GetAsync(session, later)).FromCache.Should().BeTrue();
    }

    [Test]
    public async Task OperationTimeout_ServerStopsAnswering_EachOperationFailsInTime_AndRequestGoesToNetwork()
    {
        await using var server = await DedicatedRedisServer.StartAsync();

        // The caller's connection would wait 30 s for an answer; the storage must give up after its own timeout.
        var configuration = ConfigurationOptions.Parse(server.Configuration);
        configuration.AllowAdmin = true;
        configuration.AsyncTimeout = 30_000;
        configuration.SyncTimeout = 30_000;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        await using var adminConnection = await ConnectionMultiplexer.ConnectAsync(configuration);
        var timeout = TimeSpan.FromMilliseconds(300);
        await using var backend = new RedisBackend(connection, redisOptions: Options(timeout));
        using var session = NewSession(backend);
        await backend.Responses.WriteAsync("k", "v"u8.ToArray());
        await GetAsync(session, Path()); // warm up, so that the timings below measure the timeout, not start-up costs

        // CLIENT PAUSE: the server stays up and connected but answers nobody for 20 s.
        await adminConnection.GetServer(server.Configuration).ExecuteAsync("CLIENT", "PAUSE", "20000", "ALL");
        try
        {
            var watch = Stopwatch.StartNew();
            Exception? failure = null;
            try
            {
                await backend.Responses.ReadAsync("k");
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            watch.Stop();
            var response = await GetAsync(session, Path());
            TestContext.Out.WriteLine($"read failed after {watch.Elapsed.TotalMilliseconds:0} ms; a miss took {response.Elapsed.TotalMilliseconds:0} ms");

            connection.IsConnected.Should().BeTrue("the server is paused, not gone");
            failure.Should().BeOfType<TimeoutException>().Which.Message.Should().Contain("OperationTimeout");
            watch.Elapsed.Should().BeGreaterThanOrEqualTo(timeout - TimeSpan.FromMilliseconds(20)).And.BeLessThan(timeout + TimeSpan.FromSeconds(1));
            response.FromCache.Should().BeFalse();

            // A miss is three storage calls (lookup, lookup again under request coalescing, save), each cut at 300 ms.
            response.Elapsed.Should().BeLessThan(3 * timeout + TimeSpan.FromSeconds(2), "not the 20 s pause, nor the connection's 30 s timeout");
        }
        finally
        {
            server.Kill();
        }
    }

    private static RedisCacheOptions Options(TimeSpan? operationTimeout = null) => new()
    {
        KeyPrefix = "cachedhttp-outage-" + Guid.NewGuid().ToString("N")[..8],
        OperationTimeout = operationTimeout ?? OperationTimeout,
        ConnectTimeout = TimeSpan.FromSeconds(1),
    };

    private CachedSession NewSession(CacheBackend backend) => new(backend) { BaseAddress = _origin.BaseAddress };

    private static string Path() => "/echo/" + Guid.NewGuid().ToString("N")[..12];

    private static async Task<(bool FromCache, TimeSpan Elapsed)> GetAsync(CachedSession session, string path)
    {
        var watch = Stopwatch.StartNew();
        using var response = await session.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        watch.Stop();
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Contain(path);
        return (response.IsFromCache(), watch.Elapsed);
    }

    private static async Task<TimeSpan> WaitUntilConnectedAsync(IConnectionMultiplexer connection)
    {
        var watch = Stopwatch.StartNew();
        while (!connection.IsConnected)
        {
            if (watch.Elapsed > ReconnectTimeout)
            {
                Assert.Fail($"The connection did not reconnect within {ReconnectTimeout.TotalSeconds} s.");
            }

            await Task.Delay(100);
        }

        return watch.Elapsed;
    }
}
