using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.FileStorage;

/// <summary>The inspection contract over files in the binary format.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class FileInspectionContractTests : CacheInspectionContractTests
{
    private TempFolder _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = new TempFolder();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new FileBackend(_folder.NewSubfolder(name), options));
}

/// <summary>The inspection contract over files in the readable (JSON) format.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ReadableFileInspectionContractTests : CacheInspectionContractTests
{
    private TempFolder _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = new TempFolder();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new FileBackend(_folder.NewSubfolder(name), options, new FileCacheOptions { ReadableFormat = true }));
}
