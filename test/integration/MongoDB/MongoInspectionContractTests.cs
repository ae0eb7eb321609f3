using CachedHttp.MongoDB;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>The inspection contract over <see cref="MongoDbBackend"/>, one database per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbInspectionContractTests : CacheInspectionContractTests
{
    private readonly MongoDatabases _databases = new();

    [OneTimeTearDown]
    public Task DropDatabases() => _databases.DropAllAsync();

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new MongoDbBackend(await _databases.NewAsync(options), options);
}

/// <summary>The inspection contract over <see cref="GridFsBackend"/>, one database per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsInspectionContractTests : CacheInspectionContractTests
{
    private readonly MongoDatabases _databases = new();

    [OneTimeTearDown]
    public Task DropDatabases() => _databases.DropAllAsync();

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new GridFsBackend(await _databases.NewAsync(options), options);
}
