using CachedHttp.Redis;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>The inspection contract over a single Redis server (GETRANGE heads, PTTL, OBJECT IDLETIME).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisInspectionContractTests : CacheInspectionContractTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new RedisBackend(await RedisTestServers.SingleAsync(), options, new RedisCacheOptions { KeyPrefix = "cachedhttp-test-" + name });
}

/// <summary>The inspection contract over a Redis Cluster: keys, and the pipelined inspection commands, spread over every node.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisClusterInspectionContractTests : CacheInspectionContractTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new RedisBackend(await RedisTestServers.ClusterAsync(), options, new RedisCacheOptions { KeyPrefix = "cachedhttp-test-" + name });
}
