namespace CachedHttp.Tests.Integration.Sqlite;

/// <summary>A uniquely named folder under the temporary folder, deleted (with its files) on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder(string purpose)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"cachedhttp-sqlite-{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException exception)
        {
            TestContext.Out.WriteLine($"Could not delete {Path}: {exception.Message}");
        }
    }
}
