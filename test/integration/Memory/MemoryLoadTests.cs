using CachedHttp.Tests.Integration.Load;

namespace CachedHttp.Tests.Integration.Memory;

/// <summary>The load proof on the in-memory backend.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MemoryLoadTests : LoadContractTests
{
    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult(new CacheBackend(options));
}
