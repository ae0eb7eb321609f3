using CachedHttp.Sqlite;

namespace CachedHttp.Samples;

public static class Transfer
{
    public static async Task ExportAsync()
    {
        #region export
        using var source = new SqliteBackend("http_cache.sqlite");
        await using var file = File.Create("http_cache.chx.gz");
        var exported = await source.ExportAsync(file, new CacheExportOptions { Compress = true, IncludeExpired = true });
        Console.WriteLine($"{exported.Responses} responses, {exported.Redirects} redirects, {exported.Bytes} bytes");
        #endregion
    }

    public static async Task ImportAsync()
    {
        #region import
        using var target = new FileBackend("http_cache");
        var progress = new Progress<CacheTransferProgress>(p => Console.Error.Write($"\r{p.Entries} entries, {p.Bytes} bytes"));
        await using var input = File.OpenRead("http_cache.chx.gz"); // GZip is detected
        try
        {
            var imported = await target.ImportAsync(input, new CacheImportOptions { SkipExisting = true }, progress);
            Console.WriteLine($"{imported.Entries} entries, {imported.SkippedExisting} kept as they were");
        }
        catch (CacheExportFormatException ex)
        {
            // Truncated or damaged: the records before ex.RecordNumber are imported.
            Console.Error.WriteLine($"{ex.Message} ({ex.Progress?.Entries} entries imported before it)");
        }
        #endregion
    }
}
