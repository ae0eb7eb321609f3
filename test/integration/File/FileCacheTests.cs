using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CachedHttp.Internal;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Integration.FileStorage;

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class FileCacheTests
{
    private TempFolder _folder = null!;
    private string _directory = null!;
    private FakeTimeProvider _time = null!;

    [SetUp]
    public void SetUp()
    {
        _folder = new TempFolder();
        _directory = _folder.NewSubfolder("cache");
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    }

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private FileCache NewCache(bool readable = false, bool flushToDisk = false, string storeName = "responses")
        => new(_directory, storeName, new FileCacheOptions { ReadableFormat = readable, FlushToDisk = flushToDisk }, _time);

    private static string Sha256Hex(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string[] FileNames(string directory)
        => Directory.GetFiles(directory).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();

    private static byte[] RealEnvelope(out CachedResponse response)
    {
        response = new CachedResponse
        {
            Method = "GET",
            Url = new Uri("https://example.com/data?q=ünïcödé&x=<b>"),
            StatusCode = HttpStatusCode.OK,
            ReasonPhrase = "OK",
            Headers = new CachedHeaders([new("ETag", ["\"abc\""]), new("X-Note", ["café <b>&'+"])]),
            ContentHeaders = new CachedHeaders([new("Content-Type", ["application/json; charset=utf-8"])]),
            Body = Encoding.UTF8.GetBytes("{\"hello\":\"wörld\"}"),
            CreatedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            ExpiresAt = new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero),
        };
        return new EntrySerializer(new CacheOptions()).Serialize(response, "k");
    }

    [Test]
    public void Constructor_CreatesStoreFolderUnderDirectory()
    {
        using var cache = NewCache(storeName: "redirects");
        cache.StoreDirectory.Should().Be(Path.Combine(Path.GetFullPath(_directory), "redirects"));
        Directory.Exists(cache.StoreDirectory).Should().BeTrue();
        cache.Name.Should().Be("file");
    }

    [TestCase("")]
    [TestCase(" ")]
    [TestCase("..")]
    [TestCase(".")]
    [TestCase("a/b")]
    [TestCase("a\\b")]
    [TestCase("../x")]
    public void Constructor_StoreNameNotAPlainFolderName_Throws(string storeName)
    {
        var act = () => new FileCache(_directory, storeName);
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("storeName");
    }

    [Test]
    public void Constructor_NegativeTempFileRetention_ThrowsNamingTheOption()
    {
        var act = () => new FileCache(_directory, fileOptions: new FileCacheOptions { TempFileRetention = TimeSpan.FromSeconds(-1) });
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(FileCacheOptions.TempFileRetention));
    }

    [Test]
    public void Constructor_UseTempWithRelativeDirectory_PlacesItUnderTempPath()
    {
        var relative = Path.Combine("cachedhttp-tests", Guid.NewGuid().ToString("N"));
        using var cache = new FileCache(relative, fileOptions: new FileCacheOptions { UseTemp = true });
        try
        {
            cache.RootDirectory.Should().Be(Path.GetFullPath(Path.Combine(Path.GetTempPath(), relative)));
            Directory.Exists(cache.StoreDirectory).Should().BeTrue();
        }
        finally
        {
            Directory.Delete(cache.RootDirectory, recursive: true);
        }
    }

    [Test]
    public void Constructor_UseTempWithAbsoluteDirectory_UsesItAsGiven()
    {
        using var cache = new FileCache(_directory, fileOptions: new FileCacheOptions { UseTemp = true });
        cache.RootDirectory.Should().Be(Path.GetFullPath(_directory));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Write_PathTraversalKeys_StayInsideStoreDirectory(bool readable)
    {
        using var cache = NewCache(readable);
        string[] keys = ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "C:\\evil", "../responses2/x", "\0nul", ""];
        foreach (var key in keys)
        {
            await cache.WriteAsync(key, Encoding.UTF8.GetBytes("v:" + key));
        }

        foreach (var key in keys)
        {
            (await cache.ReadAsync(key)).Should().Equal(Encoding.UTF8.GetBytes("v:" + key));
            Path.GetDirectoryName(cache.GetEntryPath(key)).Should().Be(cache.StoreDirectory);
            Path.GetFileNameWithoutExtension(cache.GetEntryPath(key)).Should().Be(Sha256Hex(key));
        }

        // Nothing was written anywhere but the store folder.
        Directory.GetFileSystemEntries(_folder.Path, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(cache.StoreDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Should().BeEquivalentTo([cache.RootDirectory, cache.StoreDirectory]);
        Directory.GetDirectories(cache.StoreDirectory).Should().BeEmpty();
        FileNames(cache.StoreDirectory).Should().HaveCount(readable ? keys.Length * 2 : keys.Length);
    }

    [Test]
    public async Task Write_KeyWithLoneSurrogate_ThrowsArgumentException()
    {
        using var cache = NewCache();
        var act = async () => await cache.WriteAsync("bad\ud800key", new byte[] { 1 });
        (await act.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("key");
    }

    [Test]
    public async Task Write_Binary_FileHasDocumentedLayout()
    {
        using var cache = NewCache();
        var deleteAfter = _time.GetUtcNow().AddMinutes(5);
        await cache.WriteAsync("k€y", new byte[] { 9, 8, 7 }, deleteAfter);

        var bytes = await File.ReadAllBytesAsync(cache.GetEntryPath("k€y"));
        var key = Encoding.UTF8.GetBytes("k€y");
        Encoding.ASCII.GetString(bytes, 0, 4).Should().Be("CHF1");
        BitConverter.ToUInt32(bytes, 4).Should().Be((uint)key.Length);
        bytes.AsSpan(8, key.Length).ToArray().Should().Equal(key);
        BitConverter.ToInt64(bytes, 8 + key.Length).Should().Be(deleteAfter.ToUnixTimeMilliseconds());
        BitConverter.ToInt64(bytes, 16 + key.Length).Should().Be(3);
        bytes[(24 + key.Length)..].Should().Equal(9, 8, 7);
    }

    [TestCase(0)]
    [TestCase(10)]
    [TestCase(30)]
    [TestCase(5000)]
    public async Task Read_TruncatedFile_IsMissAndRemoved(int keepBytes)
    {
        using var cache = NewCache();
        await cache.WriteAsync("k", RandomBytes(100_000, 1));
        var path = cache.GetEntryPath("k");
        await using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(keepBytes);
        }

        (await cache.ReadAsync("k")).Should().BeNull();
        File.Exists(path).Should().BeFalse();
    }

    [Test]
    public async Task Read_FileLongerThanHeaderSays_IsMissAndRemoved()
    {
        using var cache = NewCache();
        await cache.WriteAsync("k", new byte[] { 1, 2, 3 });
        var path = cache.GetEntryPath("k");
        await File.AppendAllTextAsync(path, "junk");

        (await cache.ContainsAsync("k")).Should().BeFalse();
        (await cache.ReadAsync("k")).Should().BeNull();
        File.Exists(path).Should().BeFalse();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Read_RandomBytesFileWithValidName_IsMissAndRemoved(bool readable)
    {
        using var cache = NewCache(readable);
        var path = cache.GetEntryPath("victim");
        await File.WriteAllBytesAsync(path, RandomBytes(4096, 7));

        (await cache.ReadAsync("victim")).Should().BeNull();
        File.Exists(path).Should().BeFalse();
        (await cache.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Enumerations_SkipCorruptFiles_AndDeleteExpiredRemovesThem()
    {
        using var cache = NewCache();
        await cache.WriteAsync("good", new byte[] { 1 });
        var corrupt = Path.Combine(cache.StoreDirectory, Sha256Hex("other") + ".chc");
        await File.WriteAllBytesAsync(corrupt, Encoding.ASCII.GetBytes("CHF1 not really"));

        var keys = new List<string>();
        await foreach (var key in cache.GetKeysAsync())
        {
            keys.Add(key);
        }

        keys.Should().Equal("good");
        (await cache.DeleteExpiredAsync()).Should().Be(1);
        File.Exists(corrupt).Should().BeFalse();
        (await cache.ReadAsync("good")).Should().Equal(1);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Read_PastDeleteAfter_IsMissAndRemoved(bool readable)
    {
        using var cache = NewCache(readable);
        await cache.WriteAsync("k", new byte[] { 1 }, _time.GetUtcNow().AddSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(11));

        (await cache.ReadAsync("k")).Should().BeNull();
        FileNames(cache.StoreDirectory).Should().BeEmpty();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task DeleteExpired_RemovesExpiredAndOldTempFiles_KeepsTheRest(bool readable)
    {
        using var cache = new FileCache(_directory, fileOptions: new FileCacheOptions { ReadableFormat = readable }, timeProvider: _time);
        _time.SetUtcNow(DateTimeOffset.UtcNow);
        await cache.WriteAsync("old", RandomBytes(1_000_000, 3), _time.GetUtcNow().AddMinutes(1));
        await cache.WriteAsync("live", new byte[] { 2 }, _time.GetUtcNow().AddDays(1));
        await cache.WriteAsync("forever", new byte[] { 3 });
        var staleTemp = Path.Combine(cache.StoreDirectory, "." + Sha256Hex("crashed") + ".chc." + Guid.NewGuid().ToString("N") + ".tmp");
        await File.WriteAllBytesAsync(staleTemp, new byte[] { 0 });
        File.SetLastWriteTimeUtc(staleTemp, DateTime.UtcNow.AddHours(-2));
        var freshTemp = Path.Combine(cache.StoreDirectory, "." + Sha256Hex("writing") + ".chc." + Guid.NewGuid().ToString("N") + ".tmp");
        await File.WriteAllBytesAsync(freshTemp, new byte[] { 0 });

        _time.Advance(TimeSpan.FromMinutes(2));
        (await cache.DeleteExpiredAsync()).Should().Be(1);

        File.Exists(staleTemp).Should().BeFalse();
        File.Exists(freshTemp).Should().BeTrue();
        (await cache.ReadAsync("old")).Should().BeNull();
        (await cache.ReadAsync("live")).Should().Equal(2);
        (await cache.ReadAsync("forever")).Should().Equal(3);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Clear_LeavesForeignFilesAndFolders(bool readable)
    {
        using var cache = NewCache(readable);
        for (var i = 0; i < 5; i++)
        {
            await cache.WriteAsync($"k{i}", new byte[] { (byte)i });
        }

        var leftoverTemp = Path.Combine(cache.StoreDirectory, "." + Sha256Hex("k9") + ".chc." + Guid.NewGuid().ToString("N") + ".tmp");
        await File.WriteAllBytesAsync(leftoverTemp, new byte[] { 0 });
        string[] foreign =
        [
            "notes.txt",
            Sha256Hex("x").ToUpperInvariant() + ".chc", // not our (lowercase) name
            Sha256Hex("x") + ".txt",
            "abc.chc",
            "readme.json",
            ".hidden.tmp",
            "." + Sha256Hex("x") + ".chc.not-a-guid.tmp",
        ];
        foreach (var name in foreign)
        {
            await File.WriteAllTextAsync(Path.Combine(cache.StoreDirectory, name), "mine");
        }

        var subfolder = Directory.CreateDirectory(Path.Combine(cache.StoreDirectory, "sub"));
        await File.WriteAllTextAsync(Path.Combine(subfolder.FullName, Sha256Hex("k1") + ".chc"), "mine too");

        await cache.ClearAsync();

        FileNames(cache.StoreDirectory).Should().BeEquivalentTo(foreign);
        File.Exists(Path.Combine(subfolder.FullName, Sha256Hex("k1") + ".chc")).Should().BeTrue();
        (await cache.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Clear_StoreFolderRemovedByHand_DoesNotThrow_AndWritesRecreateIt()
    {
        using var cache = NewCache();
        Directory.Delete(cache.StoreDirectory, recursive: true);

        await cache.ClearAsync();
        (await cache.ReadAsync("k")).Should().BeNull();
        (await cache.DeleteExpiredAsync()).Should().Be(0);
        await cache.WriteAsync("k", new byte[] { 1 });
        (await cache.ReadAsync("k")).Should().Equal(1);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Write_FiftyConcurrentWritersOfOneKey_LeaveOneIntactValue(bool readable)
    {
        using var cache = NewCache(readable);
        var values = Enumerable.Range(0, 50).Select(i => RandomBytes(50_000 + (i * 1000), i)).ToArray();

        await Task.WhenAll(values.Select(value => Task.Run(async () => await cache.WriteAsync("same", value))));

        var read = await cache.ReadAsync("same");
        read.Should().NotBeNull();
        values.Count(v => v.SequenceEqual(read!)).Should().Be(1);
        FileNames(cache.StoreDirectory).Should().HaveCount(readable ? 2 : 1, "no temporary file may remain");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Write_ConcurrentWritersAndReadersOfOneKey_ReadersSeeOnlyWholeValues(bool readable)
    {
        using var cache = NewCache(readable);
        var values = Enumerable.Range(0, 20).Select(i => RandomBytes(20_000 + (i * 777), i)).ToArray();
        await cache.WriteAsync("k", values[0]);

        var writers = values.Select(value => Task.Run(async () => await cache.WriteAsync("k", value)));
        var readers = Enumerable.Range(0, 40).Select(_ => Task.Run(async () =>
        {
            var read = await cache.ReadAsync("k");
            return read is null || values.Any(v => v.AsSpan().SequenceEqual(read));
        }));
        await Task.WhenAll(writers);
        (await Task.WhenAll(readers)).Should().AllSatisfy(ok => ok.Should().BeTrue());
        (await cache.ReadAsync("k")).Should().NotBeNull();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task WriteAndDelete_LeaveNoTemporaryFiles(bool readable)
    {
        using var cache = NewCache(readable);
        for (var i = 0; i < 20; i++)
        {
            await cache.WriteAsync($"k{i % 5}", RandomBytes(1000, i), _time.GetUtcNow().AddHours(1));
        }

        await cache.DeleteAsync("k0");
        await cache.WriteStreamAsync("s", new MemoryStream(RandomBytes(300_000, 1)));

        FileNames(cache.StoreDirectory).Should().OnlyContain(n => !n.EndsWith(".tmp", StringComparison.Ordinal))
            .And.HaveCount(readable ? 10 : 5);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Write_FlushToDisk_RoundTrips(bool readable)
    {
        using var cache = NewCache(readable, flushToDisk: true);
        cache.FlushToDisk.Should().BeTrue();
        var value = RandomBytes(200_000, 5);
        await cache.WriteAsync("k", value);
        await cache.WriteStreamAsync("s", new MemoryStream(value));

        (await cache.ReadAsync("k")).Should().Equal(value);
        (await cache.ReadAsync("s")).Should().Equal(value);
    }

    [Test]
    public async Task ReadableFormat_Envelope_JsonIsHumanReadable_BodyIsRawBody_AndRoundTripsExactly()
    {
        using var cache = NewCache(readable: true);
        var envelope = RealEnvelope(out var response);
        var deleteAfter = new DateTimeOffset(2026, 1, 3, 4, 5, 6, TimeSpan.Zero);
        await cache.WriteAsync("the-key", envelope, deleteAfter);

        var jsonPath = cache.GetEntryPath("the-key");
        var hash = Sha256Hex("the-key");
        jsonPath.Should().EndWith(hash + ".json");
        var text = await File.ReadAllTextAsync(jsonPath);
        text.Should().Contain("\n  \"key\": \"the-key\"", "it is indented for people");
        text.Should().Contain("café <b>&'+", "it is not escaped for HTML");

        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        root.GetProperty("key").GetString().Should().Be("the-key");
        root.GetProperty("delete_after").GetDateTimeOffset().Should().Be(deleteAfter);
        root.GetProperty("delete_after").GetString().Should().StartWith("2026-01-03T04:05:06");
        root.GetProperty("value_length").GetInt64().Should().Be(envelope.Length);
        root.GetProperty("value_is_envelope").GetBoolean().Should().BeTrue();
        root.GetProperty("body_length").GetInt64().Should().Be(response.Body.Length);
        root.GetProperty("body_sha256").GetString().Should().Be(Convert.ToHexStringLower(SHA256.HashData(response.Body.Span)));
        root.GetProperty("envelope").GetProperty("version").GetInt32().Should().Be(CachedHttp.Internal.EntrySerializer.CurrentVersion);
        root.GetProperty("envelope").GetProperty("header").GetString().Should().HaveLength(52, "the 26-byte clear header of a version 2 envelope, in hex");
        var metadata = root.GetProperty("metadata");
        metadata.GetProperty("Url").GetString().Should().Be(response.Url.OriginalString);
        metadata.GetProperty("Status").GetInt32().Should().Be(200);
        metadata.GetProperty("Method").GetString().Should().Be("GET");

        var bodyPath = Path.Combine(cache.StoreDirectory, hash + ".body");
        (await File.ReadAllBytesAsync(bodyPath)).Should().Equal(response.Body.ToArray());

        var read = await cache.ReadAsync("the-key");
        read.Should().Equal(envelope);
        new EntrySerializer(new CacheOptions()).Deserialize(read, "the-key").Url.Should().Be(response.Url);

        await using var stream = await cache.OpenReadStreamAsync("the-key");
        var streamed = new MemoryStream();
        await stream!.CopyToAsync(streamed);
        streamed.ToArray().Should().Equal(envelope);
    }

    [Test]
    public async Task ReadableFormat_EnvelopeWrittenAsStream_SplitsTheSameWay()
    {
        using var cache = NewCache(readable: true);
        var envelope = RealEnvelope(out var response);
        await cache.WriteStreamAsync("k", new NonSeekableStream(envelope));

        using var document = JsonDocument.Parse(await File.ReadAllBytesAsync(cache.GetEntryPath("k")));
        document.RootElement.GetProperty("value_is_envelope").GetBoolean().Should().BeTrue();
        document.RootElement.GetProperty("delete_after").ValueKind.Should().Be(JsonValueKind.Null);
        (await File.ReadAllBytesAsync(Path.ChangeExtension(cache.GetEntryPath("k"), ".body"))).Should().Equal(response.Body.ToArray());
        (await cache.ReadAsync("k")).Should().Equal(envelope);
    }

    [TestCase(new byte[] { 1, 2, 3 })]
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 1, 0, 0, 255, 0, 0, 0, 1 })] // metadata length past the end
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 1, 0, 0, 3, 0, 0, 0, (byte)'n', (byte)'o', (byte)'!', 9 })] // metadata is not JSON
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 1, 0, 0, 4, 0, 0, 0, (byte)'[', (byte)' ', (byte)'1', (byte)']' })] // JSON, but not compact
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 2, 0, 0, 2, 0, 0, 0, (byte)'{', (byte)'}' })] // unknown version
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 1, 0, 7, 2, 0, 0, 0, (byte)'{', (byte)'}' })] // unknown kind
    [TestCase(new byte[] { (byte)'C', (byte)'H', (byte)'C', 1, 0, 1, 8, 0, 0, 0, (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'[', (byte)']', (byte)'}', 42 })] // JSON the serializer would not write
    public async Task ReadableFormat_NonEnvelopeValue_StoredWholeInBody_WithFlag(byte[] value)
    {
        using var cache = NewCache(readable: true);
        await cache.WriteAsync("k", value);
        await cache.WriteStreamAsync("s", new NonSeekableStream(value));

        foreach (var key in new[] { "k", "s" })
        {
            using var document = JsonDocument.Parse(await File.ReadAllBytesAsync(cache.GetEntryPath(key)));
            document.RootElement.GetProperty("value_is_envelope").GetBoolean().Should().BeFalse();
            document.RootElement.TryGetProperty("metadata", out _).Should().BeFalse();
            (await File.ReadAllBytesAsync(Path.ChangeExtension(cache.GetEntryPath(key), ".body"))).Should().Equal(value);
            (await cache.ReadAsync(key)).Should().Equal(value);
        }
    }

    [Test]
    public async Task ReadableFormat_VaryIndexEnvelope_IsSplit_AndRoundTrips()
    {
        using var cache = NewCache(readable: true);
        var value = new EntrySerializer(new CacheOptions()).SerializeVaryIndex(new VaryIndex { Names = ["Accept-Language"], Variants = ["k1", "k2"], DeleteAfter = new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.FromHours(2)) }, "k");
        await cache.WriteAsync("k", value);

        using var document = JsonDocument.Parse(await File.ReadAllBytesAsync(cache.GetEntryPath("k")));
        document.RootElement.GetProperty("envelope").GetProperty("kind").GetInt32().Should().Be((int)EntryKind.VaryIndex);
        document.RootElement.GetProperty("metadata").GetProperty("Names")[0].GetString().Should().Be("Accept-Language");
        (await File.ReadAllBytesAsync(Path.ChangeExtension(cache.GetEntryPath("k"), ".body"))).Should().BeEmpty();
        (await cache.ReadAsync("k")).Should().Equal(value);
    }

    [Test]
    public async Task ReadableFormat_BodyMissing_IsMissAndJsonRemoved()
    {
        using var cache = NewCache(readable: true);
        await cache.WriteAsync("k", RealEnvelope(out _));
        File.Delete(Path.ChangeExtension(cache.GetEntryPath("k"), ".body"));

        (await cache.ContainsAsync("k")).Should().BeFalse();
        (await cache.CountAsync()).Should().Be(0);
        (await cache.ReadAsync("k")).Should().BeNull();
        FileNames(cache.StoreDirectory).Should().BeEmpty();
    }

    [Test]
    public async Task ReadableFormat_BodyOfWrongLength_IsMissAndPairRemoved()
    {
        using var cache = NewCache(readable: true);
        await cache.WriteAsync("k", RealEnvelope(out _));
        await File.AppendAllTextAsync(Path.ChangeExtension(cache.GetEntryPath("k"), ".body"), "x");

        (await cache.OpenReadStreamAsync("k")).Should().BeNull();
        FileNames(cache.StoreDirectory).Should().BeEmpty();
    }

    [Test]
    public async Task ReadableFormat_BodyChangedWithSameLength_IsMissByChecksum()
    {
        using var cache = NewCache(readable: true);
        await cache.WriteAsync("k", Encoding.UTF8.GetBytes("original"));
        await File.WriteAllTextAsync(Path.ChangeExtension(cache.GetEntryPath("k"), ".body"), "tampered");

        (await cache.ReadAsync("k")).Should().BeNull();
        FileNames(cache.StoreDirectory).Should().BeEmpty();
    }

    [Test]
    public async Task ReadableFormat_OrphanBody_IsIgnored_AndRemovedByDeleteExpiredWhenOld()
    {
        using var cache = NewCache(readable: true);
        _time.SetUtcNow(DateTimeOffset.UtcNow);
        var orphan = Path.Combine(cache.StoreDirectory, Sha256Hex("k") + ".body");
        await File.WriteAllTextAsync(orphan, "body without json");

        (await cache.ReadAsync("k")).Should().BeNull();
        (await cache.CountAsync()).Should().Be(0);
        await cache.DeleteExpiredAsync();
        File.Exists(orphan).Should().BeTrue("it may be a write in progress");

        _time.Advance(TimeSpan.FromHours(2));
        await cache.DeleteExpiredAsync();
        File.Exists(orphan).Should().BeFalse();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task OpenReadStream_IsPositionedAtValue_AndSeekable(bool readable)
    {
        using var cache = NewCache(readable);
        var value = RandomBytes(200_000, 11);
        await cache.WriteAsync("k", value);

        await using var stream = await cache.OpenReadStreamAsync("k");
        stream.Should().NotBeNull();
        stream!.CanSeek.Should().BeTrue();
        stream.CanWrite.Should().BeFalse();
        stream.Length.Should().Be(value.Length);
        stream.Position.Should().Be(0);
        stream.ReadByte().Should().Be(value[0]);
        stream.Seek(-10, SeekOrigin.End);
        var tail = new byte[20];
        stream.Read(tail, 0, tail.Length).Should().Be(10);
        tail[..10].Should().Equal(value[^10..]);
        stream.Position = 0;
        var all = new MemoryStream();
        await stream.CopyToAsync(all);
        all.ToArray().Should().Equal(value);
        (await cache.OpenReadStreamAsync("missing")).Should().BeNull();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task OpenReadStream_PastDeleteAfter_ReturnsNull(bool readable)
    {
        using var cache = NewCache(readable);
        await cache.WriteAsync("k", new byte[] { 1 }, _time.GetUtcNow().AddSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(2));
        (await cache.OpenReadStreamAsync("k")).Should().BeNull();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task OpenReadStream_WriteWhileOpen_StreamKeepsOldValue(bool readable)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Windows does not replace a file that is open; the write waits or fails instead.");
        }

        using var cache = NewCache(readable);
        var first = RandomBytes(100_000, 1);
        var second = RandomBytes(100_000, 2);
        await cache.WriteAsync("k", first);
        await using var stream = await cache.OpenReadStreamAsync("k");
        await cache.WriteAsync("k", second);

        var read = new MemoryStream();
        await stream!.CopyToAsync(read);
        read.ToArray().Should().Equal(first);
        (await cache.ReadAsync("k")).Should().Equal(second);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task WriteStream_NonSeekableSource_RoundTrips(bool readable)
    {
        using var cache = NewCache(readable);
        var value = RandomBytes(1_234_567, 4);
        await cache.WriteStreamAsync("k", new NonSeekableStream(value), _time.GetUtcNow().AddHours(1));
        await cache.WriteStreamAsync("empty", new NonSeekableStream([]));

        (await cache.ReadAsync("k")).Should().Equal(value);
        (await cache.ReadAsync("empty")).Should().BeEmpty();
        _time.Advance(TimeSpan.FromHours(2));
        (await cache.ReadAsync("k")).Should().BeNull();
    }

    [Test]
    public async Task WriteStream_FromCurrentPosition_StoresTheRest()
    {
        using var cache = NewCache();
        var source = new MemoryStream(new byte[] { 1, 2, 3, 4, 5 }) { Position = 2 };
        await cache.WriteStreamAsync("k", source);
        (await cache.ReadAsync("k")).Should().Equal(3, 4, 5);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task WriteStream_Cancelled_KeepsPreviousValue_AndLeavesNoTempFile(bool readable)
    {
        using var cache = NewCache(readable);
        await cache.WriteAsync("k", new byte[] { 1 });
        using var cts = new CancellationTokenSource();
        var source = new NonSeekableStream(RandomBytes(1_000_000, 1), onRead: cts.Cancel);

        var act = async () => await cache.WriteStreamAsync("k", source, cancellationToken: cts.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await cache.ReadAsync("k")).Should().Equal(1);
        FileNames(cache.StoreDirectory).Should().HaveCount(readable ? 2 : 1);
    }

    [TestCase(false)]
    [TestCase(true)]
    [NonParallelizable] // GC.GetTotalAllocatedBytes counts every thread of the process
    public async Task OpenReadStream_ThirtyMegabyteValue_AllocatesFarLessThanTheValue(bool readable)
    {
        using var cache = NewCache(readable);
        const int size = 30 * 1024 * 1024;
        await cache.WriteAsync("big", RandomBytes(size, 30));
        var buffer = new byte[81920];
        await using (var warmup = await cache.OpenReadStreamAsync("big"))
        {
            await warmup!.ReadExactlyAsync(buffer);
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        long total = 0;
        await using (var stream = await cache.OpenReadStreamAsync("big"))
        {
            int read;
            while ((read = await stream!.ReadAsync(buffer)) > 0)
            {
                total += read;
            }
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        TestContext.Out.WriteLine($"Streaming {size:N0} bytes allocated {allocated:N0} bytes.");
        total.Should().Be(size);
        allocated.Should().BeLessThan(2 * 1024 * 1024, $"streaming {size} bytes allocated {allocated}");
    }

    /// <summary>A read-only stream that cannot seek or tell its length.</summary>
    private sealed class NonSeekableStream(byte[] data, Action? onRead = null) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            onRead?.Invoke();
            return _inner.Read(buffer, offset, Math.Min(count, 10_000));
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            onRead?.Invoke();
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(_inner.Read(buffer.Span[..Math.Min(buffer.Length, 10_000)]));
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
