using CachedHttp.Redis;
using CachedHttp.Tests.Integration.Load;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>The load proof on a single Redis server (in this namespace, whose set-up fixture owns the shared connections).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisLoadTests : LoadContractTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new RedisBackend(await RedisTestServers.SingleAsync(), options, new RedisCacheOptions { KeyPrefix = "cachedhttp-load-" + name });
}

/// <summary>The load proof on the 3-node Redis Cluster.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisClusterLoadTests : LoadContractTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new RedisBackend(await RedisTestServers.ClusterAsync(), options, new RedisCacheOptions { KeyPrefix = "cachedhttp-load-" + name });
}
