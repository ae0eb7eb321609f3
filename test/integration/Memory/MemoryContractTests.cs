using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Memory;

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MemoryStorageContractTests : StorageContractTests
{
    protected override ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => ValueTask.FromResult<BaseCache>(new InMemoryCache(timeProvider));
}

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MemoryBackendContractTests : CacheBackendContractTests
{
    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult(new CacheBackend(options));
}
