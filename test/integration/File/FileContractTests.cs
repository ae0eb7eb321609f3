using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.FileStorage;

/// <summary>A temporary folder per fixture, removed when the fixture ends; each storage gets its own subfolder.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cachedhttp-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string NewSubfolder(string? name = null) => System.IO.Path.Combine(Path, name ?? Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class FileStorageContractTests : StorageContractTests
{
    private TempFolder _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = new TempFolder();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => ValueTask.FromResult<BaseCache>(new FileCache(_folder.NewSubfolder(name), timeProvider: timeProvider));
}

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ReadableFileStorageContractTests : StorageContractTests
{
    private TempFolder _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = new TempFolder();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
        => ValueTask.FromResult<BaseCache>(new FileCache(_folder.NewSubfolder(name), fileOptions: new FileCacheOptions { ReadableFormat = true }, timeProvider: timeProvider));
}

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class FileBackendContractTests : CacheBackendContractTests
{
    private TempFolder _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = new TempFolder();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new FileBackend(_folder.NewSubfolder(name), options));
}

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ReadableFileBackendContractTests : CacheBackendContractTests
{
    private TempFolder _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = new TempFolder();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new FileBackend(_folder.NewSubfolder(name), options, new FileCacheOptions { ReadableFormat = true }));
}
