using CachedHttp.Sqlite;
using CachedHttp.Tests.Integration.Load;

namespace CachedHttp.Tests.Integration.Sqlite;

/// <summary>The load proof on the SQLite backend, one file per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class SqliteLoadTests : LoadContractTests
{
    private readonly TempFolder _folder = new("load");

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new SqliteBackend(_folder.File(name), options));
}
