using CachedHttp.Sqlite;
using CachedHttp.Tests.Integration.Foundation;

namespace CachedHttp.Tests.Integration.SizeBounds;

/// <summary>MaxEntries through a session on the real origin: the store settles at its bound, and what was read recently stays.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class SizeBoundsEndToEndTests : OriginFixture
{
    private const int MaxEntries = 10;
    private const int Urls = 30;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "cachedhttp-bounds-e2e-" + Guid.NewGuid().ToString("N")[..10]);

    [OneTimeTearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private CacheBackend NewBackend(string kind, CacheOptions options) => kind switch
    {
        "memory" => new CacheBackend(options),
        "file" => new FileBackend(Path.Combine(_folder, "file-" + Unique()), options),
        "sqlite" => new SqliteBackend(Path.Combine(_folder, "sqlite-" + Unique()), options),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [TestCase("memory")]
    [TestCase("file")]
    [TestCase("sqlite")]
    public async Task Session_ThirtyUrlsWithMaxEntriesTen_KeepsTenAndTheRecentlyReadOnes(string kind)
    {
        var first = 1000 + (Random.Shared.Next(1000) * 100);
        string Url(int i) => $"/cache/{first + i}";
        string[] hot = [Url(0), Url(1)];
        using var backend = NewBackend(kind, new CacheOptions { MaxEntries = MaxEntries, AutoClose = false });
        using var session = new CachedSession(backend) { BaseAddress = Origin.BaseAddress };

        foreach (var url in hot)
        {
            (await session.GetAsync(url)).Dispose();
        }

        for (var i = hot.Length; i < Urls; i++)
        {
            (await session.GetAsync(Url(i))).Dispose();
            foreach (var url in hot)
            {
                using var again = await session.GetAsync(url);
                again.IsFromCache().Should().BeTrue($"{url} is read after every new URL, so it is never the least recently used");
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        long stored;
        while ((stored = await backend.Responses.CountAsync()) > MaxEntries)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"the background trims should bring {stored} entries down to {MaxEntries}");
            await Task.Delay(25);
        }

        stored.Should().BeInRange(MaxEntries - 2, MaxEntries);
        foreach (var url in hot)
        {
            Origin.Requests(url).Should().Be(1, $"{url} was never evicted");
        }

        using (var latest = await session.GetAsync(Url(Urls - 1)))
        {
            latest.IsFromCache().Should().BeTrue("the latest URL is among the most recently used");
        }

        using (var early = await session.GetAsync(Url(2)))
        {
            early.IsFromCache().Should().BeFalse("an early URL that nobody read again was evicted");
        }

        Origin.Requests(Url(2)).Should().Be(2);
    }
}
