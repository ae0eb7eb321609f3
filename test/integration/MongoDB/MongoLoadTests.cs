using CachedHttp.MongoDB;
using CachedHttp.Tests.Integration.Load;
using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>The load proof on <see cref="MongoDbBackend"/>, one database per test (Ignored without a server).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbLoadTests : LoadContractTests
{
    private readonly List<IMongoDatabase> _databases = [];

    [OneTimeTearDown]
    public async Task DropDatabases()
    {
        foreach (var database in _databases)
        {
            await MongoServer.DropQuietlyAsync(database);
        }
    }

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
    {
        var database = await MongoServer.NewDatabaseOrIgnoreAsync();
        _databases.Add(database);
        return new MongoDbBackend(database, options);
    }
}

/// <summary>The load proof on <see cref="GridFsBackend"/>, one database per test (Ignored without a server).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsLoadTests : LoadContractTests
{
    private readonly List<IMongoDatabase> _databases = [];

    [OneTimeTearDown]
    public async Task DropDatabases()
    {
        foreach (var database in _databases)
        {
            await MongoServer.DropQuietlyAsync(database);
        }
    }

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
    {
        var database = await MongoServer.NewDatabaseOrIgnoreAsync();
        _databases.Add(database);
        return new GridFsBackend(database, options);
    }
}
