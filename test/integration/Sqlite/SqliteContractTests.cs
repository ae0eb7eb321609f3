using CachedHttp.Sqlite;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Sqlite;

/// <summary>The storage contract with each storage in its own file (under one folder per fixture).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class SqliteStorageContractTests : StorageContractTests
{
    private readonly TempFolder _folder = new("contract");

    protected override ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => ValueTask.FromResult<BaseCache>(new SqliteCache(Path.Combine(_folder.Path, name), timeProvider: timeProvider));

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();
}

/// <summary>The storage contract with every storage a table of one shared file, so isolation is between tables.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class SqliteSharedFileStorageContractTests : StorageContractTests
{
    private readonly TempFolder _folder = new("shared");

    protected override ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => ValueTask.FromResult<BaseCache>(new SqliteCache(Path.Combine(_folder.Path, "shared.sqlite"), name, timeProvider: timeProvider));

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();
}

/// <summary>The end-to-end backend contract over a real origin, each backend in its own file.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class SqliteBackendContractTests : CacheBackendContractTests
{
    private readonly TempFolder _folder = new("backend");

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new SqliteBackend(Path.Combine(_folder.Path, name), options));

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();
}
