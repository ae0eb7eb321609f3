using CachedHttp.Sqlite;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Sqlite;

/// <summary>The inspection contract over SQLite, each backend in its own file.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class SqliteInspectionContractTests : CacheInspectionContractTests
{
    private readonly TempFolder _folder = new("inspection");

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new SqliteBackend(Path.Combine(_folder.Path, name), options));

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();
}
