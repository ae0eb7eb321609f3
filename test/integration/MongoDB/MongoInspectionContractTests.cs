using CachedHttp.MongoDB;
using CachedHttp.Testing;
using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>The inspection contract over <see cref="MongoDbBackend"/>, one database per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbInspectionContractTests : CacheInspectionContractTests
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
        MongoClock.MoveToNow(options);
        return new MongoDbBackend(database, options);
    }
}

/// <summary>The inspection contract over <see cref="GridFsBackend"/>, one database per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsInspectionContractTests : CacheInspectionContractTests
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
        MongoClock.MoveToNow(options);
        return new GridFsBackend(database, options);
    }
}
