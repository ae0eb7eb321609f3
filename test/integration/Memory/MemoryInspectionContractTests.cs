using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Memory;

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MemoryInspectionContractTests : CacheInspectionContractTests
{
    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult(new CacheBackend(options));
}
