using CachedHttp.Redis;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>The storage contract against a single Redis server.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisStorageContractTests : StorageContractTests
{
    protected override bool ExpiresInRealTime => true;

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => new RedisCache(await RedisTestServers.SingleAsync(), "cachedhttp-test-" + name, "store", timeProvider);
}

/// <summary>The storage contract against a 3-node Redis Cluster: keys spread over every node.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisClusterStorageContractTests : StorageContractTests
{
    protected override bool ExpiresInRealTime => true;

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => new RedisCache(await RedisTestServers.ClusterAsync(), "cachedhttp-test-" + name, "store", timeProvider);
}

/// <summary>The end-to-end backend contract over a real origin, with a single Redis server.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisBackendContractTests : CacheBackendContractTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new RedisBackend(await RedisTestServers.SingleAsync(), options, new RedisCacheOptions { KeyPrefix = "cachedhttp-test-" + name });
}

/// <summary>The end-to-end backend contract over a real origin, with a Redis Cluster.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class RedisClusterBackendContractTests : CacheBackendContractTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new RedisBackend(await RedisTestServers.ClusterAsync(), options, new RedisCacheOptions { KeyPrefix = "cachedhttp-test-" + name });
}
