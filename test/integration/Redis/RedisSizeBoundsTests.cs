using System.Diagnostics;
using CachedHttp.Redis;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.SizeBounds;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>Redis evicts by itself (maxmemory-policy, TTLs): MaxEntries and MaxBytes are refused, MaxEntryBytes honoured.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class RedisSizeBoundsTests
{
    private static TestOrigin _origin = null!;

    private readonly string _prefix = "cachedhttp-test-" + Guid.NewGuid().ToString("N")[..12];

    [OneTimeSetUp]
    public static async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public static async Task StopOrigin() => await _origin.DisposeAsync();

    [TearDown]
    public Task DeleteTestKeys() => RedisTestServers.DeleteKeysAsync(RedisTestServers.SingleConfiguration, _prefix, 0);

    [Test]
    public async Task Constructor_MaxEntriesOrMaxBytes_ThrowsNamingTheOption()
    {
        var connection = await RedisTestServers.SingleAsync();

        ServerBackendBounds.RejectsMaxEntriesAndMaxBytes(
            options => new RedisBackend(connection, options, new RedisCacheOptions { KeyPrefix = _prefix }),
            "redis");

        connection.IsConnected.Should().BeTrue("a shared connection is never closed by a backend, even one that failed");
    }

    [Test]
    public void Constructor_OwnedConnectionAndMaxEntries_ThrowsBeforeConnecting()
    {
        var stopwatch = Stopwatch.StartNew();

        // Nothing listens on port 1: connecting would take the whole connect timeout.
        var act = () => new RedisBackend("127.0.0.1:1", new CacheOptions { MaxEntries = 10 }, new RedisCacheOptions { ConnectTimeout = TimeSpan.FromSeconds(5) });

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(CacheOptions.MaxEntries));
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2), "no connection is attempted, so none can leak");
    }

    [Test]
    public async Task MaxEntryBytes_LargeEntryServedNotStored_SmallOneStored()
    {
        var connection = await RedisTestServers.SingleAsync();

        await ServerBackendBounds.HonoursMaxEntryBytesAsync(
            _origin,
            options => new RedisBackend(connection, options, new RedisCacheOptions { KeyPrefix = _prefix }));
    }
}
