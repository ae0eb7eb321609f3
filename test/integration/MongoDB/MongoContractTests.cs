using CachedHttp.MongoDB;
using CachedHttp.Testing;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>The storage contract for <see cref="MongoDbCache"/> (values inline; the 70 kB one too).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbStorageContractTests : StorageContractTests
{
    private IMongoDatabase? _database;

    /// <summary>Real time: the TTL monitor deletes by the server's clock, so a fake clock in the past would race it.</summary>
    protected override bool ExpiresInRealTime => true;

    [OneTimeTearDown]
    public Task DropDatabase() => MongoServer.DropQuietlyAsync(_database);

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
    {
        _database ??= await MongoServer.NewDatabaseOrIgnoreAsync();
        return new MongoDbCache(_database, name, timeProvider: timeProvider);
    }
}

/// <summary>The storage contract for <see cref="MongoDbCache"/> with a 16-byte GridFS threshold: nearly every value goes to GridFS.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbGridFsThresholdStorageContractTests : StorageContractTests
{
    private IMongoDatabase? _database;

    protected override bool ExpiresInRealTime => true;

    [OneTimeTearDown]
    public Task DropDatabase() => MongoServer.DropQuietlyAsync(_database);

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
    {
        _database ??= await MongoServer.NewDatabaseOrIgnoreAsync();
        return new MongoDbCache(_database, name, new MongoDbCacheOptions { GridFsThreshold = 16 }, timeProvider);
    }
}

/// <summary>The storage contract for <see cref="GridFsCache"/>.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsStorageContractTests : StorageContractTests
{
    private IMongoDatabase? _database;

    protected override bool ExpiresInRealTime => true;

    [OneTimeTearDown]
    public Task DropDatabase() => MongoServer.DropQuietlyAsync(_database);

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
    {
        _database ??= await MongoServer.NewDatabaseOrIgnoreAsync();
        return new GridFsCache(_database, name, timeProvider: timeProvider);
    }
}

/// <summary>The end-to-end backend contract over <see cref="MongoDbBackend"/>, one database per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbBackendContractTests : CacheBackendContractTests
{
    private readonly MongoDatabases _databases = new();

    [OneTimeTearDown]
    public Task DropDatabases() => _databases.DropAllAsync();

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new MongoDbBackend(await _databases.NewAsync(options), options);
}

/// <summary>The end-to-end backend contract over <see cref="GridFsBackend"/>, one database per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsBackendContractTests : CacheBackendContractTests
{
    private readonly MongoDatabases _databases = new();

    [OneTimeTearDown]
    public Task DropDatabases() => _databases.DropAllAsync();

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => new GridFsBackend(await _databases.NewAsync(options), options);
}

internal static class MongoClock
{
    /// <summary>
    /// Moves the test's fake clock (which starts on 2026-01-01) forward to the real time, because the server's TTL
    /// monitor deletes by its real clock: delete-after times in the real past would vanish mid-test. Forward only, and
    /// before any request, so the contract's own clock arithmetic is unchanged.
    /// </summary>
    public static void MoveToNow(CacheOptions options)
    {
        if (options.TimeProvider is FakeTimeProvider fake && fake.GetUtcNow() < DateTimeOffset.UtcNow)
        {
            fake.SetUtcNow(DateTimeOffset.UtcNow);
        }
    }
}
