using CachedHttp.Tests.Integration.Load;

namespace CachedHttp.Tests.Integration.FileStorage;

/// <summary>The load proof on the file backend, binary format.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class FileLoadTests : LoadContractTests
{
    private readonly TempFolder _folder = new();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new FileBackend(_folder.NewSubfolder(name), options));
}

/// <summary>The load proof on the file backend, readable format (.json + .body pairs).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ReadableFileLoadTests : LoadContractTests
{
    private readonly TempFolder _folder = new();

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
        => ValueTask.FromResult<CacheBackend>(new FileBackend(_folder.NewSubfolder(name), options, new FileCacheOptions { ReadableFormat = true }));
}
