using System.Diagnostics;
using System.Security.Cryptography;
using CachedHttp.MongoDB;
using CachedHttp.Sqlite;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.MongoDB;
using CachedHttp.Tests.Integration.Sqlite;

namespace CachedHttp.Tests.Integration.Streaming;

/// <summary>
/// Issue 8: a 100 MB response is cached to a storage that streams, and served back, through a <see cref="CachedSession"/>
/// against the real Kestrel origin, with peak managed memory under 16 MB each way.
/// </summary>
/// <remarks>
/// Peak managed memory is sampled, not computed from allocations: a dedicated thread reads
/// <see cref="GC.GetTotalMemory(bool)"/> (without collecting) every millisecond during the transfer, and the peak is the
/// largest sample minus the heap after a full collection just before it. A sample counts live objects and garbage not
/// yet collected, so the peak is an upper bound of what the transfer holds (the origin runs in the same process and is
/// counted too). The body is read as a stream and hashed as it arrives, as a caller that does not buffer it does.
/// </remarks>
[NonParallelizable]
public abstract class LargeBodyTests : OriginFixture
{
    private const int Size = 100 * 1024 * 1024;
    private const long PeakLimit = 16L * 1024 * 1024;

    protected static CacheOptions Options() => new() { MaxBodySize = 256L * 1024 * 1024 };

    protected abstract ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options);

    [TestCase("bytes", TestName = "{m}_KnownLength")]
    [TestCase("stream", TestName = "{m}_Chunked")]
    public async Task LargeResponse_StoredAndServed_InUnder16MBOfManagedMemory(string endpoint)
    {
        var backend = await CreateBackendAsync(Options());
        using var session = NewSession(backend: backend);
        var path = $"/{endpoint}/{Size}";
        var url = $"{path}?u={Unique()}";
        var expected = ExpectedHash(Size);
        Origin.ResetCounts();

        var (missPeak, miss) = await MeasureAsync(() => ReadAsync(session, url));
        var (hitPeak, hit) = await MeasureAsync(() => ReadAsync(session, url));

        TestContext.Out.WriteLine($"{backend.Name} {endpoint}: peak managed memory {missPeak / 1048576.0:0.0} MB storing, {hitPeak / 1048576.0:0.0} MB serving");
        miss.Status.Should().Be(CacheStatus.Miss);
        hit.Status.Should().Be(CacheStatus.Hit);
        miss.Length.Should().Be(Size);
        hit.Length.Should().Be(Size);
        miss.Hash.Should().Equal(expected);
        hit.Hash.Should().Equal(expected);
        Origin.Requests(path).Should().Be(1, "the second request is served from storage");
        missPeak.Should().BeLessThan(PeakLimit, "storing streams the body to storage as it is read");
        hitPeak.Should().BeLessThan(PeakLimit, "serving streams the body from storage as it is read");
        await backend.DisposeAsync();
    }

    [Test]
    public async Task StreamedEntry_IsListedExportedAndKeptByTheExpirySweep()
    {
        var options = Options();
        options.StreamingThreshold = 64 * 1024;
        options.ExpireAfter = Expiration.After(TimeSpan.FromHours(1));
        var backend = await CreateBackendAsync(options);
        using var session = NewSession(backend: backend);
        const int Length = 1024 * 1024;
        var url = $"/bytes/{Length}?u={Unique()}";
        (await ReadAsync(session, url)).Length.Should().Be(Length);

        var entries = new List<CacheEntry>();
        await foreach (var entry in backend.GetEntriesAsync())
        {
            entries.Add(entry);
        }

        entries.Should().ContainSingle(e => e.Url.PathAndQuery == url).Which.BodySize.Should().Be(Length, "a streamed entry's body length is in its trailer");
        (await backend.GetStatisticsAsync()).UnreadableCount.Should().Be(0);
        (await backend.DeleteExpiredResponsesAsync()).Should().Be(0, "the entry is fresh");
        (await ReadAsync(session, url)).Status.Should().Be(CacheStatus.Hit);

        using var export = new MemoryStream();
        var exported = await backend.ExportAsync(export);
        exported.Responses.Should().Be(1);
        await backend.DisposeAsync();
    }

    private static async Task<(CacheStatus Status, long Length, byte[] Hash)> ReadAsync(CachedSession session, string url)
    {
        using var response = await session.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long length = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            length += read;
        }

        return (response.GetCacheInfo().Status, length, sha.GetHashAndReset());
    }

    /// <summary>The SHA-256 of what <c>/bytes/{n}</c> sends, computed chunk by chunk (the content repeats every 256 bytes).</summary>
    private static byte[] ExpectedHash(int size)
    {
        var chunk = TestOrigin.ExpectedBytes(4096);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var remaining = size; remaining > 0; remaining -= chunk.Length)
        {
            sha.AppendData(chunk, 0, Math.Min(remaining, chunk.Length));
        }

        return sha.GetHashAndReset();
    }

    private static async Task<(long Peak, T Result)> MeasureAsync<T>(Func<Task<T>> transfer)
    {
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampler = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var now = GC.GetTotalMemory(forceFullCollection: false);
                if (now > Volatile.Read(ref peak))
                {
                    Volatile.Write(ref peak, now);
                }

                Thread.Sleep(1);
            }
        })
        { IsBackground = true, Name = "peak memory sampler" };
        sampler.Start();
        try
        {
            var result = await transfer();
            return (Volatile.Read(ref peak) - baseline, result);
        }
        finally
        {
            await stop.CancelAsync();
            sampler.Join();
        }
    }
}

public sealed class FileLargeBodyTests : LargeBodyTests
{
    private readonly List<string> _folders = [];

    [OneTimeTearDown]
    public void DeleteFolders()
    {
        foreach (var folder in _folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options)
    {
        var folder = Path.Combine(Path.GetTempPath(), "cachedhttp-large-" + Unique());
        _folders.Add(folder);
        return ValueTask.FromResult<CacheBackend>(new FileBackend(folder, options));
    }
}

public sealed class SqliteLargeBodyTests : LargeBodyTests
{
    private readonly List<TempFolder> _folders = [];

    [OneTimeTearDown]
    public void DeleteFolders()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folders.ForEach(f => f.Dispose());
    }

    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options)
    {
        var folder = new TempFolder("large");
        _folders.Add(folder);
        return ValueTask.FromResult<CacheBackend>(new SqliteBackend(folder.File("cache.sqlite"), options));
    }
}

public sealed class GridFsLargeBodyTests : LargeBodyTests
{
    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options)
    {
        var database = await MongoServer.NewDatabaseOrIgnoreAsync();
        MongoClock.MoveToNow(options);
        return new GridFsBackend(database, options);
    }
}
