using System.Net;
using System.Text;
using CachedHttp.Internal;
using CachedHttp.Tests.Integration.Observability;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Integration.FileStorage;

/// <summary>MaxEntries and MaxBytes on the file storage: least recently used by file time, background trims, totals across restarts.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class FileSizeBoundsTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempFolder _folder = new();
    private readonly string _directory;
    private readonly FakeTimeProvider _time = new(Start);

    public FileSizeBoundsTests()
    {
        _directory = _folder.NewSubfolder("cache");
    }

    public void Dispose() => _folder.Dispose();

    private FileCache NewCache(bool readable, long? maxEntries = null, long? maxBytes = null, string? name = null)
    {
        var options = new FileCacheOptions { ReadableFormat = readable };
        var cache = name is null ? new FileCache(_directory, "responses", options, _time) : new NamedFileCache(name, _directory, options, _time);
        if (maxEntries is not null || maxBytes is not null)
        {
            cache.SetSizeLimits(new StorageSizeLimits { MaxEntries = maxEntries, MaxBytes = maxBytes });
        }

        return cache;
    }

    private static byte[] ValueOf(string key, int length = 200)
    {
        var bytes = new byte[length];
        new Random(key.GetHashCode(StringComparison.Ordinal)).NextBytes(bytes);
        return bytes;
    }

    private static async Task<List<string>> KeysAsync(BaseCache cache)
    {
        var keys = new List<string>();
        await foreach (var key in cache.GetKeysAsync())
        {
            keys.Add(key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    /// <summary>The bytes of the entry files on disk (what the bounds count), temporary files aside.</summary>
    private static long BytesOnDisk(FileCache cache)
        => Directory.GetFiles(cache.StoreDirectory)
            .Where(p => FileCache.IsEntryFileName(Path.GetFileName(p), out _))
            .Sum(p => new FileInfo(p).Length);

    [TestCase(false)]
    [TestCase(true)]
    public async Task Write_OverMaxEntries_DeletesTheLeastRecentlyUsedEntry(bool readable)
    {
        using var cache = NewCache(readable, maxEntries: 5);
        for (var i = 0; i < 5; i++)
        {
            await cache.WriteAsync("k" + i, ValueOf("k" + i));
            _time.Advance(TimeSpan.FromMinutes(1));
        }

        (await cache.ReadAsync("k0")).Should().Equal(ValueOf("k0"));
        _time.Advance(TimeSpan.FromMinutes(1));
        await cache.WriteAsync("k5", ValueOf("k5"));
        await cache.WhenTrimmedAsync();

        (await KeysAsync(cache)).Should().Equal("k0", "k2", "k3", "k4", "k5");
        var extensions = Directory.GetFiles(cache.StoreDirectory).Select(Path.GetExtension).ToList();
        extensions.Should().HaveCount(readable ? 10 : 5, "an evicted entry leaves no file behind (a .json with its .body)");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Write_OverMaxBytes_KeepsTheFolderUnderTheBound(bool readable)
    {
        using var cache = NewCache(readable, maxBytes: 20_000);

        for (var i = 0; i < 60; i++)
        {
            await cache.WriteAsync("k" + i, ValueOf("k" + i, 1000));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        await cache.WhenTrimmedAsync();

        BytesOnDisk(cache).Should().BeLessThanOrEqualTo(20_000);
        (await cache.GetTotalBytesAsync()).Should().Be(BytesOnDisk(cache));
        (await KeysAsync(cache)).Should().Contain("k59").And.NotContain("k0");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task GetTotalBytesAsync_NewInstanceOverAnOldFolder_ScansIt(bool readable)
    {
        using (var first = NewCache(readable))
        {
            for (var i = 0; i < 7; i++)
            {
                await first.WriteAsync("k" + i, ValueOf("k" + i, 100 * (i + 1)));
            }
        }

        using var second = NewCache(readable);

        (await second.GetTotalBytesAsync()).Should().Be(BytesOnDisk(second));
        await second.WriteAsync("k0", ValueOf("k0", 50));
        await second.DeleteAsync("k1");
        (await second.GetTotalBytesAsync()).Should().Be(BytesOnDisk(second), "the running total follows writes and deletes");
        await second.ClearAsync();
        (await second.GetTotalBytesAsync()).Should().Be(0);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task SetSizeLimits_AfterRestart_KeepsTheEntriesUsedLastBeforeIt(bool readable)
    {
        using (var before = NewCache(readable))
        {
            foreach (var key in new[] { "a", "b", "c", "d" })
            {
                await before.WriteAsync(key, ValueOf(key));
                _time.Advance(TimeSpan.FromMinutes(1));
            }

            await before.ReadAsync("a");
            _time.Advance(TimeSpan.FromMinutes(1));
        }

        using var after = NewCache(readable, maxEntries: 2);
        await after.WhenTrimmedAsync();

        (await KeysAsync(after)).Should().Equal("a", "d");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Read_MovesTheFileTimeInTheBackground_NotOnTheReadPath(bool readable)
    {
        var cache = NewCache(readable);
        await cache.WriteAsync("k", ValueOf("k"));
        var path = cache.GetEntryPath("k");
        File.GetLastWriteTimeUtc(path).Should().Be(Start.UtcDateTime, "a write sets the time from the storage's clock");
        _time.Advance(TimeSpan.FromMinutes(1));

        (await cache.ReadAsync("k")).Should().NotBeNull();

        File.GetLastWriteTimeUtc(path).Should().Be(Start.UtcDateTime, "a read does not touch the file itself");
        _time.Advance(FileCache.TouchFlushInterval);
        File.GetLastWriteTimeUtc(path).Should().Be(Start.AddMinutes(1).UtcDateTime, "the flush wrote the time of the read");

        _time.Advance(TimeSpan.FromMinutes(1));
        (await cache.ReadAsync("k")).Should().NotBeNull();
        cache.Dispose();
        File.GetLastWriteTimeUtc(path).Should().Be(Start.AddMinutes(2).AddSeconds(1).UtcDateTime, "disposing writes what is pending");
    }

    [Test]
    public async Task Read_ManyEntries_FlushStartsBeforeTheInterval()
    {
        using var cache = NewCache(readable: false);
        for (var i = 0; i < FileCache.TouchFlushThreshold; i++)
        {
            await cache.WriteAsync("k" + i, ValueOf("k", 10));
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < FileCache.TouchFlushThreshold; i++)
        {
            await cache.ReadAsync("k" + i);
        }

        var paths = Enumerable.Range(0, FileCache.TouchFlushThreshold).Select(i => cache.GetEntryPath("k" + i)).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (paths.Count(p => File.GetLastWriteTimeUtc(p) == Start.AddMinutes(1).UtcDateTime) is var moved && moved < paths.Count)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"the flush should have moved every file's time ({moved} so far)");
            await Task.Delay(20);
        }
    }

    [Test]
    public async Task Write_AnotherInstanceWroteToTheFolder_CountedAtTheNextRescan()
    {
        using var first = NewCache(readable: false, maxEntries: 10);
        using var second = NewCache(readable: false, maxEntries: 10);
        await first.WhenTrimmedAsync();
        await second.WhenTrimmedAsync();
        for (var i = 0; i < 8; i++)
        {
            await first.WriteAsync("a" + i, ValueOf("a" + i));
            await second.WriteAsync("b" + i, ValueOf("b" + i));
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        await first.WhenTrimmedAsync();
        await second.WhenTrimmedAsync();
        (await first.CountAsync()).Should().Be(16, "each instance saw only its own 8 writes: under its bound");

        _time.Advance(TimeSpan.FromSeconds(11));
        await first.WriteAsync("a8", ValueOf("a8"));
        await first.WhenTrimmedAsync();

        (await first.CountAsync()).Should().BeLessThanOrEqualTo(10);
        (await first.ContainsAsync("a8")).Should().BeTrue();
        (await first.ContainsAsync("a0")).Should().BeFalse("the oldest entry of either writer goes first");
        (await first.ContainsAsync("b0")).Should().BeFalse();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Trim_WhileOthersReadAndWrite_NeverServesATornEntry(bool readable)
    {
        using var cache = NewCache(readable, maxEntries: 20);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var mismatches = 0;
        var hits = 0;

        var workers = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (!stop.IsCancellationRequested)
            {
                var key = "k" + random.Next(60);
                if (random.Next(3) == 0)
                {
                    await cache.WriteAsync(key, ValueOf(key, 100 + (key.Length * 300)));
                }
                else if (await cache.ReadAsync(key) is { } value)
                {
                    Interlocked.Increment(ref hits);
                    if (!value.AsSpan().SequenceEqual(ValueOf(key, 100 + (key.Length * 300))))
                    {
                        Interlocked.Increment(ref mismatches);
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        await cache.WhenTrimmedAsync();
        await cache.WriteAsync("last", ValueOf("last"));
        await cache.WhenTrimmedAsync();

        mismatches.Should().Be(0);
        hits.Should().BePositive();
        (await cache.CountAsync()).Should().BeLessThanOrEqualTo(20);
        if (readable)
        {
            var names = Directory.GetFiles(cache.StoreDirectory).Select(Path.GetFileName).ToList();
            names.Count(n => n!.EndsWith(".json", StringComparison.Ordinal)).Should().Be(names.Count(n => n!.EndsWith(".body", StringComparison.Ordinal)));
        }
    }

    [Test]
    public async Task Trim_Evictions_AreCountedWithReasonSize()
    {
        var name = "file-bounds-" + Guid.NewGuid().ToString("N")[..8];
        using var metrics = new MetricsCollector();
        using var cache = NewCache(readable: false, maxEntries: 3, name: name);

        for (var i = 0; i < 6; i++)
        {
            await cache.WriteAsync("k" + i, ValueOf("k" + i));
            _time.Advance(TimeSpan.FromSeconds(1));
            await cache.WhenTrimmedAsync();
        }

        metrics.For("cachedhttp.evictions", name).Where(m => m.Tag("reason") == "size").Sum(m => m.Value).Should().Be(3);
    }

    // ---- inspection -------------------------------------------------------------------------------------------

    [Test]
    public async Task GetEntryInfosAsync_Binary_ReportsLastUseDeleteAfterAndHead()
    {
        using var cache = NewCache(readable: false);
        await cache.WriteAsync("k", "0123456789"u8.ToArray(), Start.AddDays(1));
        await cache.WriteAsync("expired", "x"u8.ToArray(), Start.AddSeconds(1));
        _time.Advance(TimeSpan.FromMinutes(3));
        await cache.ReadAsync("k");

        var infos = await InfosAsync(cache, headBytes: 4);

        var info = infos.Should().ContainSingle("an expired entry is not listed").Subject;
        info.Key.Should().Be("k");
        info.Size.Should().Be(10);
        info.DeleteAfter.Should().Be(Start.AddDays(1));
        info.LastUsedAt.Should().Be(Start.AddMinutes(3));
        info.Head.ToArray().Should().Equal("0123"u8.ToArray());
        (await InfosAsync(cache, headBytes: 100)).Single().Head.ToArray().Should().Equal("0123456789"u8.ToArray());
        (await InfosAsync(cache, headBytes: 0)).Single().Head.IsEmpty.Should().BeTrue();
    }

    [Test]
    public async Task GetEntryInfosAsync_Readable_HeadSpansTheMetadataAndTheBody()
    {
        using var cache = NewCache(readable: true);
        var envelope = Envelope(new string('b', 5000));
        await cache.WriteAsync("k", envelope);
        _time.Advance(TimeSpan.FromMinutes(2));
        await cache.ReadAsync("k");
        (await File.ReadAllTextAsync(cache.GetEntryPath("k"))).Should().Contain("\"metadata\"", "the entry was split into .json and .body");

        var info = (await InfosAsync(cache, headBytes: envelope.Length - 100)).Single();

        info.Size.Should().Be(envelope.Length);
        info.LastUsedAt.Should().Be(Start.AddMinutes(2));
        info.Head.ToArray().Should().Equal(envelope[..^100]);
        (await InfosAsync(cache, headBytes: 20)).Single().Head.ToArray().Should().Equal(envelope[..20]);
    }

    [TestCase(false)]
    [TestCase(true)]
    [NonParallelizable] // the allocation counter is process-wide
    public async Task GetEntryInfosAsync_TwentyMegabyteValue_ReadsOnlyItsHead(bool readable)
    {
        const int Size = 20 * 1024 * 1024;
        using var cache = NewCache(readable);
        await cache.WriteAsync("big", ValueOf("big", Size));
        GC.Collect();

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var info = (await InfosAsync(cache, headBytes: 64)).Single();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        info.Size.Should().Be(Size);
        info.Head.ToArray().Should().Equal(ValueOf("big", Size)[..64]);
        TestContext.Out.WriteLine($"GetEntryInfosAsync over a {Size}-byte value allocated {allocated} bytes");
        // The counter is process-wide and other fixtures' background work (servers, trims, flushes) allocates meanwhile:
        // a few MB of noise were seen. Reading the value whole would allocate at least its 20 MB.
        allocated.Should().BeLessThan(Size / 2, "only the head may be read, not the 20 MB value");
    }

    private static async Task<List<StoredEntryInfo>> InfosAsync(BaseCache cache, int headBytes)
    {
        var infos = new List<StoredEntryInfo>();
        await foreach (var info in cache.GetEntryInfosAsync(headBytes))
        {
            infos.Add(info);
        }

        return infos;
    }

    private static byte[] Envelope(string body) => new EntrySerializer(new CacheOptions()).Serialize(
        new CachedResponse
        {
            Method = "GET",
            Url = new Uri("https://example.com/data"),
            StatusCode = HttpStatusCode.OK,
            ContentHeaders = new CachedHeaders([new("Content-Type", ["text/plain"])]),
            Body = Encoding.UTF8.GetBytes(body),
            CreatedAt = Start,
        },
        "k");

    private sealed class NamedFileCache(string name, string directory, FileCacheOptions options, TimeProvider time)
        : FileCache(directory, "responses", options, time)
    {
        public override string Name => name;
    }
}
