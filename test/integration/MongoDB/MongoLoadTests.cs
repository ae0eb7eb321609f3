using CachedHttp.MongoDB;
using CachedHttp.Tests.Integration.Load;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>The load proof on <see cref="MongoDbBackend"/>, one database per test (Ignored without a server).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbLoadTests : LoadContractTests
{
    private readonly MongoDatabases _databases = new();

    [OneTimeTearDown]
    public Task DropDatabases() => _databases.DropAllAsync();

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new MongoDbBackend(await _databases.NewAsync(options, moveClock: false), options);
}

/// <summary>The load proof on <see cref="GridFsBackend"/>, one database per test (Ignored without a server).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsLoadTests : LoadContractTests
{
    private readonly MongoDatabases _databases = new();

    [OneTimeTearDown]
    public Task DropDatabases() => _databases.DropAllAsync();

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new GridFsBackend(await _databases.NewAsync(options, moveClock: false), options);
}
