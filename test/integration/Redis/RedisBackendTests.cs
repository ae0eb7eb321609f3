using System.Text;
using CachedHttp.Redis;
using CachedHttp.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>What the storage contract cannot see: TTLs on the Redis keys, the commands used, prefixes, ownership.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class RedisBackendTests
{
    private static TestOrigin _origin = null!;

    // Every prefix of a test starts with this, so the tear-down removes what the test left, even when it failed.
    private readonly string _testPrefix = "cachedhttp-test-" + Guid.NewGuid().ToString("N")[..12];
    private int _prefixes;

    [OneTimeSetUp]
    public static async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public static async Task StopOrigin() => await _origin.DisposeAsync();

    [TearDown]
    public Task DeleteTestKeys() => RedisTestServers.DeleteKeysAsync(RedisTestServers.SingleConfiguration, _testPrefix, 0, 3);

    private string UniquePrefix() => $"{_testPrefix}-{Interlocked.Increment(ref _prefixes)}";

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Test]
    public async Task Write_WithDeleteAfter_SetsRedisTtl()
    {
        var connection = await RedisTestServers.SingleAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await cache.WriteAsync("k", Bytes("v"), DateTimeOffset.UtcNow.AddSeconds(100));

        var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(cache.GetRedisKey("k"));

        ttl.Should().NotBeNull();
        ttl!.Value.Should().BeCloseTo(TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(3));
        await cache.ClearAsync();
    }

    [Test]
    public async Task Write_WithFakeClock_TtlIsMeasuredFromThatClock()
    {
        var connection = await RedisTestServers.SingleAsync();
        var clock = new FakeTimeProvider(new DateTimeOffset(2030, 6, 1, 0, 0, 0, TimeSpan.Zero));
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses", clock);
        await cache.WriteAsync("k", Bytes("v"), clock.GetUtcNow().AddMinutes(90));

        var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(cache.GetRedisKey("k"));

        ttl!.Value.Should().BeCloseTo(TimeSpan.FromMinutes(90), TimeSpan.FromSeconds(3));
        await cache.ClearAsync();
    }

    [Test]
    public async Task Write_WithoutDeleteAfter_HasNoTtl_AndRemovesAPreviousOne()
    {
        var connection = await RedisTestServers.SingleAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await cache.WriteAsync("k", Bytes("v1"), DateTimeOffset.UtcNow.AddHours(1));
        await cache.WriteAsync("k", Bytes("v2"));

        var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(cache.GetRedisKey("k"));

        ttl.Should().BeNull();
        (await cache.ReadAsync("k")).Should().Equal(Bytes("v2"));
        await cache.ClearAsync();
    }

    [Test]
    public async Task Write_WithPastDeleteAfter_DeletesTheKey()
    {
        var connection = await RedisTestServers.SingleAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await cache.WriteAsync("k", Bytes("v"));
        await cache.WriteAsync("k", Bytes("v2"), DateTimeOffset.UtcNow.AddSeconds(-1));

        (await connection.GetDatabase().KeyExistsAsync(cache.GetRedisKey("k"))).Should().BeFalse();
    }

    [Test]
    public async Task Keys_AreNamedPrefixStoreKey_WithoutHashTag()
    {
        var connection = await RedisTestServers.SingleAsync();
        var prefix = UniquePrefix();
        await using var backend = new RedisBackend(connection, redisOptions: new RedisCacheOptions { KeyPrefix = prefix });
        await backend.Responses.WriteAsync("abc", Bytes("v"));
        await backend.Redirects.WriteAsync("abc", Bytes("w"));

        var db = connection.GetDatabase();
        ((string?)await db.StringGetAsync($"{prefix}:responses:abc")).Should().Be("v");
        ((string?)await db.StringGetAsync($"{prefix}:redirects:abc")).Should().Be("w");
        backend.Name.Should().Be("redis");
        await backend.ClearAsync();
    }

    [Test]
    public async Task RedirectAliases_GetTheSameTtlAsTheirTarget()
    {
        var connection = await RedisTestServers.SingleAsync();
        var options = new CacheOptions { ExpireAfter = Expiration.After(TimeSpan.FromHours(1)) };
        await using var backend = new RedisBackend(connection, options, new RedisCacheOptions { KeyPrefix = UniquePrefix() });
        using var session = new CachedSession(backend) { BaseAddress = _origin.BaseAddress };

        using (var first = await session.GetAsync("/redirect/2?u=" + Guid.NewGuid().ToString("N")))
        {
            first.IsSuccessStatusCode.Should().BeTrue();
        }

        var db = connection.GetDatabase();
        var responses = (RedisCache)backend.Responses;
        var redirects = (RedisCache)backend.Redirects;
        var responseKeys = await ToListAsync(responses.GetKeysAsync());
        var aliasKeys = await ToListAsync(redirects.GetKeysAsync());
        responseKeys.Should().ContainSingle();
        aliasKeys.Should().HaveCountGreaterThanOrEqualTo(2, "each redirect hop gets an alias");

        var responseTtl = (await db.KeyTimeToLiveAsync(responses.GetRedisKey(responseKeys[0])))!.Value;
        responseTtl.Should().BeCloseTo(TimeSpan.FromHours(1), TimeSpan.FromSeconds(5));
        foreach (var alias in aliasKeys)
        {
            var aliasTtl = await db.KeyTimeToLiveAsync(redirects.GetRedisKey(alias));
            aliasTtl.Should().NotBeNull();
            aliasTtl!.Value.Should().BeCloseTo(responseTtl, TimeSpan.FromSeconds(2));
        }

        await backend.ClearAsync();
    }

    [Test]
    [NonParallelizable] // counts UNLINK calls exactly
    public async Task Clear_UsesScanAndBatchedUnlink_NeverKeys()
    {
        var connection = await RedisTestServers.SingleAsync();
        await using var backend = new RedisBackend(connection, redisOptions: new RedisCacheOptions { KeyPrefix = UniquePrefix() });
        await Task.WhenAll(Enumerable.Range(0, 1200).Select(i => backend.Responses.WriteAsync($"k{i}", Bytes("v")).AsTask()));
        await backend.Redirects.WriteAsync("alias", Bytes("k1"));
        var server = connection.GetServers().Single();
        var before = await RedisTestServers.CommandCallsAsync(server);

        await backend.ClearAsync();

        var after = await RedisTestServers.CommandCallsAsync(server);
        TestContext.Out.WriteLine($"keys {Calls(after, "keys") - Calls(before, "keys")}, scan {Calls(after, "scan") - Calls(before, "scan")}, unlink {Calls(after, "unlink") - Calls(before, "unlink")}");
        Calls(after, "keys").Should().Be(Calls(before, "keys"), "KEYS blocks the server");
        (Calls(after, "scan") - Calls(before, "scan")).Should().BeGreaterThanOrEqualTo(3, "1,200 keys take several SCAN pages");
        (Calls(after, "unlink") - Calls(before, "unlink")).Should().BeInRange(1, 20, "1,201 keys are deleted in batches, not one by one");
        Calls(after, "del").Should().Be(Calls(before, "del"));
        (await backend.Responses.CountAsync()).Should().Be(0);
        (await backend.Redirects.CountAsync()).Should().Be(0);
    }

    [Test]
    [NonParallelizable] // counts UNLINK calls exactly
    public async Task DeleteMany_OnSingleServer_IsOneUnlinkPerBatch()
    {
        var connection = await RedisTestServers.SingleAsync();
        await using var cache = new RedisCache(connection, "store", new RedisCacheOptions { KeyPrefix = UniquePrefix(), ScanBatchSize = 100 });
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => cache.WriteAsync($"k{i}", Bytes("v")).AsTask()));
        var server = connection.GetServers().Single();
        var before = await RedisTestServers.CommandCallsAsync(server);

        var deleted = await cache.DeleteManyAsync(Enumerable.Range(0, 1000).Select(i => $"k{i}"));

        var after = await RedisTestServers.CommandCallsAsync(server);
        deleted.Should().Be(1000);
        (Calls(after, "unlink") - Calls(before, "unlink")).Should().Be(10);
    }

    [Test]
    public async Task Clear_OnePrefix_LeavesOtherPrefixesAndForeignKeys()
    {
        var connection = await RedisTestServers.SingleAsync();
        var unique = UniquePrefix();

        // Unescaped, "{unique}*"'s pattern would also match "{unique}zzz".
        await using var cleared = new RedisBackend(connection, redisOptions: new RedisCacheOptions { KeyPrefix = unique + "*" });
        await using var kept = new RedisBackend(connection, redisOptions: new RedisCacheOptions { KeyPrefix = unique + "zzz" });
        await using var keptToo = new RedisBackend(connection, redisOptions: new RedisCacheOptions { KeyPrefix = unique });
        var db = connection.GetDatabase();
        var foreign = (RedisKey)(unique + "*:other:x");
        await db.StringSetAsync(foreign, "foreign");
        foreach (var backend in new[] { cleared, kept, keptToo })
        {
            await backend.Responses.WriteAsync("k", Bytes("v"));
            await backend.Redirects.WriteAsync("a", Bytes("k"));
        }

        await cleared.ClearAsync();

        (await cleared.Responses.CountAsync()).Should().Be(0);
        (await cleared.Redirects.CountAsync()).Should().Be(0);
        (await kept.Responses.ReadAsync("k")).Should().Equal(Bytes("v"));
        (await kept.Redirects.ReadAsync("a")).Should().Equal(Bytes("k"));
        (await keptToo.Responses.ReadAsync("k")).Should().Equal(Bytes("v"));
        ((string?)await db.StringGetAsync(foreign)).Should().Be("foreign");
        await kept.ClearAsync();
        await keptToo.ClearAsync();
        await db.KeyDeleteAsync(foreign);
    }

    [Test]
    public async Task Dispose_BackendFromConfigurationString_ClosesItsConnection()
    {
        await RedisTestServers.SingleAsync();
        var backend = new RedisBackend(RedisTestServers.SingleConfiguration, redisOptions: new RedisCacheOptions { KeyPrefix = UniquePrefix() });
        await backend.Responses.WriteAsync("k", Bytes("v"));
        backend.Connection.IsConnected.Should().BeTrue();
        await backend.ClearAsync();

        await backend.DisposeAsync();

        backend.Connection.IsConnected.Should().BeFalse();
        var ping = () => backend.Connection.GetDatabase().PingAsync();
        await ping.Should().ThrowAsync<Exception>();
    }

    [Test]
    public async Task Dispose_SyncBackendFromConfigurationString_ClosesItsConnection()
    {
        await RedisTestServers.SingleAsync();
        var backend = new RedisBackend(RedisTestServers.SingleConfiguration, redisOptions: new RedisCacheOptions { KeyPrefix = UniquePrefix() });
        backend.Connection.IsConnected.Should().BeTrue();

        backend.Dispose();

        backend.Connection.IsConnected.Should().BeFalse();
    }

    [Test]
    public async Task Dispose_BackendOnPassedConnection_LeavesItOpen()
    {
        await RedisTestServers.SingleAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(RedisTestServers.SingleConfiguration);
        var backend = new RedisBackend(connection, redisOptions: new RedisCacheOptions { KeyPrefix = UniquePrefix() });
        await backend.Responses.WriteAsync("k", Bytes("v"));
        await backend.ClearAsync();

        await backend.DisposeAsync();
        using (var sync = new RedisBackend(connection))
        {
            sync.Connection.Should().BeSameAs(connection);
        }

        connection.IsConnected.Should().BeTrue();
        (await connection.GetDatabase().PingAsync()).Should().BeGreaterThan(TimeSpan.Zero);
    }

    [Test]
    public async Task Dispose_CacheFromConfigurationString_ClosesItsConnection_ButNotAPassedOne()
    {
        await RedisTestServers.SingleAsync();
        var owning = new RedisCache(RedisTestServers.SingleConfiguration, "responses", new RedisCacheOptions { KeyPrefix = UniquePrefix() });
        await owning.WriteAsync("k", Bytes("v"));
        (await owning.ReadAsync("k")).Should().Equal(Bytes("v"));
        await owning.ClearAsync();
        await owning.DisposeAsync();
        owning.Connection.IsConnected.Should().BeFalse();

        await using var connection = await ConnectionMultiplexer.ConnectAsync(RedisTestServers.SingleConfiguration);
        var borrowing = new RedisCache(connection, UniquePrefix(), "responses");
        borrowing.Dispose();
        connection.IsConnected.Should().BeTrue();
    }

    [Test]
    public async Task Options_AreCopiedAtConstruction()
    {
        var connection = await RedisTestServers.SingleAsync();
        var options = new RedisCacheOptions { KeyPrefix = UniquePrefix() };
        await using var backend = new RedisBackend(connection, redisOptions: options);
        var prefix = options.KeyPrefix;

        options.KeyPrefix = "changed";
        options.OperationTimeout = TimeSpan.Zero;

        ((RedisCache)backend.Responses).KeyPrefix.Should().Be(prefix + ":responses:");
        backend.RedisOptions.KeyPrefix.Should().Be(prefix);
        backend.RedisOptions.OperationTimeout.Should().Be(TimeSpan.FromSeconds(5));
    }

    [Test]
    public async Task Database_OtherThanDefault_KeepsKeysThere()
    {
        var connection = await RedisTestServers.SingleAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses", database: 3);
        await cache.WriteAsync("k", Bytes("v"));

        (await connection.GetDatabase(3).KeyExistsAsync(cache.GetRedisKey("k"))).Should().BeTrue();
        (await connection.GetDatabase(0).KeyExistsAsync(cache.GetRedisKey("k"))).Should().BeFalse();
        (await ToListAsync(cache.GetKeysAsync())).Should().Equal("k");
        await cache.ClearAsync();
        (await cache.CountAsync()).Should().Be(0);
    }

    private static long Calls(Dictionary<string, long> stats, string command) => stats.GetValueOrDefault(command);

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }
}

/// <summary>Bulk operations against a 3-node Redis Cluster, where a multi-key command must stay in one hash slot.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class RedisClusterBackendTests
{
    private const int KeyCount = 2000;

    private readonly string _testPrefix = "cachedhttp-test-" + Guid.NewGuid().ToString("N")[..12];
    private int _prefixes;

    [TearDown]
    public Task DeleteTestKeys() => RedisTestServers.DeleteKeysAsync(RedisTestServers.ClusterConfiguration, _testPrefix, 0);

    private string UniquePrefix() => $"{_testPrefix}-{Interlocked.Increment(ref _prefixes)}";

    [Test]
    public async Task DeleteMany_2000KeysOnCluster_DeletesAll()
    {
        var connection = await RedisTestServers.ClusterAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await WriteKeysAsync(cache);
        await AssertSpreadOverEveryPrimaryAsync(connection, cache);

        var deleted = await cache.DeleteManyAsync(Enumerable.Range(0, KeyCount).Select(i => $"k{i}").Append("not-there"));

        deleted.Should().Be(KeyCount);
        (await cache.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task GetEntries_2000KeysOnCluster_ReadsEveryValue()
    {
        var connection = await RedisTestServers.ClusterAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await WriteKeysAsync(cache);

        var entries = new Dictionary<string, string>();
        await foreach (var entry in cache.GetEntriesAsync())
        {
            entries[entry.Key] = Encoding.UTF8.GetString(entry.Value);
        }

        entries.Should().HaveCount(KeyCount);
        entries.Should().Contain(Enumerable.Range(0, KeyCount).Select(i => new KeyValuePair<string, string>($"k{i}", $"v{i}")));
        (await cache.CountAsync()).Should().Be(KeyCount);
        await cache.ClearAsync();
    }

    [Test]
    [NonParallelizable] // reads command counters
    public async Task Clear_2000KeysOnCluster_ScansEveryPrimary_NeverKeys()
    {
        var connection = await RedisTestServers.ClusterAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await using var other = new RedisCache(connection, UniquePrefix(), "responses");
        await WriteKeysAsync(cache);
        await other.WriteAsync("kept", Encoding.UTF8.GetBytes("kept"));
        var primaries = connection.GetServers().Where(s => !s.IsReplica).ToArray();
        var before = await Task.WhenAll(primaries.Select(RedisTestServers.CommandCallsAsync));

        await cache.ClearAsync();

        var after = await Task.WhenAll(primaries.Select(RedisTestServers.CommandCallsAsync));
        for (var i = 0; i < primaries.Length; i++)
        {
            after[i].GetValueOrDefault("keys").Should().Be(before[i].GetValueOrDefault("keys"), $"no KEYS on {primaries[i].EndPoint}");
            after[i].GetValueOrDefault("scan").Should().BeGreaterThan(before[i].GetValueOrDefault("scan"), $"SCAN on {primaries[i].EndPoint}");
            after[i].GetValueOrDefault("unlink").Should().BeGreaterThan(before[i].GetValueOrDefault("unlink"), $"UNLINK on {primaries[i].EndPoint}");
        }

        (await cache.CountAsync()).Should().Be(0);
        (await other.ReadAsync("kept")).Should().NotBeNull();
        await other.ClearAsync();
    }

    [Test]
    public async Task Backend_OnCluster_TtlIsSetOnTheOwningNode()
    {
        var connection = await RedisTestServers.ClusterAsync();
        await using var cache = new RedisCache(connection, UniquePrefix(), "responses");
        await cache.WriteAsync("k", Encoding.UTF8.GetBytes("v"), DateTimeOffset.UtcNow.AddSeconds(60));

        var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(cache.GetRedisKey("k"));

        ttl!.Value.Should().BeCloseTo(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(3));
        await cache.ClearAsync();
    }

    private static async Task WriteKeysAsync(RedisCache cache)
        => await Task.WhenAll(Enumerable.Range(0, KeyCount).Select(i => cache.WriteAsync($"k{i}", Encoding.UTF8.GetBytes($"v{i}")).AsTask()));

    private static async Task AssertSpreadOverEveryPrimaryAsync(IConnectionMultiplexer connection, RedisCache cache)
    {
        foreach (var server in connection.GetServers().Where(s => !s.IsReplica))
        {
            var onNode = 0;
            await foreach (var unused in server.KeysAsync(pattern: cache.KeyPrefix + "*", pageSize: 500))
            {
                onNode++;
            }

            onNode.Should().BeGreaterThan(KeyCount / 10, $"keys have no hash tag, so {server.EndPoint} holds a share");
        }
    }
}
