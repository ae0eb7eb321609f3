using System.Diagnostics;
using System.Globalization;
using System.Text;
using CachedHttp.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Integration.Sqlite;

/// <summary>What the SQLite storage adds to the storage contract: files, schema, concurrency, blob streams.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class SqliteCacheTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private readonly TempFolder _folder = new("tests");

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    // ---- paths -----------------------------------------------------------------------------------------------

    [Test]
    public void Constructor_NameWithoutExtension_AppendsSqlite()
    {
        using var cache = new SqliteCache(_folder.File("plain"));
        cache.Path.Should().Be(_folder.File("plain.sqlite"));
        File.Exists(cache.Path).Should().BeTrue();
    }

    [Test]
    public void Constructor_NameWithExtension_KeepsIt()
    {
        using var cache = new SqliteCache(_folder.File("cache.db"));
        cache.Path.Should().Be(_folder.File("cache.db"));
        File.Exists(cache.Path).Should().BeTrue();
    }

    [Test]
    public void Constructor_UseTemp_PutsRelativeNameInTempFolder()
    {
        var name = "cachedhttp-usetemp-" + Guid.NewGuid().ToString("N");
        var expected = Path.GetFullPath(Path.Combine(Path.GetTempPath(), name + ".sqlite"));
        try
        {
            using var cache = new SqliteCache(name, sqliteOptions: new SqliteCacheOptions { UseTemp = true });
            cache.Path.Should().Be(expected);
            File.Exists(expected).Should().BeTrue();
        }
        finally
        {
            File.Delete(expected);
        }
    }

    [Test]
    public void Constructor_UseTempWithAbsolutePath_UsesPathAsGiven()
    {
        using var cache = new SqliteCache(_folder.File("absolute"), sqliteOptions: new SqliteCacheOptions { UseTemp = true });
        cache.Path.Should().Be(_folder.File("absolute.sqlite"));
    }

    [Test]
    public void Constructor_MissingParentFolders_CreatesThem()
    {
        var path = Path.Combine(_folder.Path, "a", "b", "c", "cache");
        using var cache = new SqliteCache(path);
        File.Exists(path + ".sqlite").Should().BeTrue();
    }

    [Test]
    public void Backend_JustAName_CreatesNameDotSqliteInCurrentDirectory()
    {
        var name = "cachedhttp-cwd-" + Guid.NewGuid().ToString("N");
        var expected = Path.GetFullPath(name + ".sqlite");
        try
        {
            using var backend = new SqliteBackend(name);
            backend.Path.Should().Be(expected);
            File.Exists(expected).Should().BeTrue();
        }
        finally
        {
            File.Delete(expected);
        }
    }

    [TestCase(":memory:")]
    [TestCase("   ")]
    public void Constructor_NotAFilePath_ThrowsArgumentException(string path)
    {
        var act = () => new SqliteCache(path);
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("path");
    }

    // ---- options and names -----------------------------------------------------------------------------------

    [Test]
    public void Options_Defaults_AreDocumentedValues()
    {
        var options = new SqliteCacheOptions();
        options.UseTemp.Should().BeFalse();
        options.FastSave.Should().BeFalse();
        options.WalMode.Should().BeTrue();
        options.BusyTimeout.Should().Be(TimeSpan.FromSeconds(30));
    }

    [Test]
    public void Constructor_NegativeBusyTimeout_ThrowsNamingTheOption_AndCreatesNoFile()
    {
        var options = new SqliteCacheOptions { BusyTimeout = TimeSpan.FromSeconds(-1) };
        var path = _folder.File("bad-options.sqlite");

        var cache = () => new SqliteCache(path, sqliteOptions: options);
        var backend = () => new SqliteBackend(path, sqliteOptions: options);

        cache.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(SqliteCacheOptions.BusyTimeout));
        backend.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(SqliteCacheOptions.BusyTimeout));
        File.Exists(path).Should().BeFalse();
    }

    [Test]
    public void Constructor_BusyTimeoutBeyondSqliteLimit_ThrowsNamingTheOption()
    {
        var act = () => new SqliteCache(_folder.File("too-long"), sqliteOptions: new SqliteCacheOptions { BusyTimeout = TimeSpan.FromDays(30) });
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(SqliteCacheOptions.BusyTimeout));
    }

    [TestCase("")]
    [TestCase("1table")]
    [TestCase("with-dash")]
    [TestCase("with space")]
    [TestCase("x\"; DROP TABLE responses; --")]
    [TestCase("sqlite_master")]
    [TestCase("cachedhttp_schema")]
    [TestCase("ünïcode")]
    public void Constructor_InvalidTableName_ThrowsArgumentException(string tableName)
    {
        var path = _folder.File("bad-table-" + Guid.NewGuid().ToString("N"));
        var act = () => new SqliteCache(path, tableName);
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("tableName");
    }

    [Test]
    public void Constructor_TableNameTooLong_ThrowsArgumentException()
    {
        var act = () => new SqliteCache(_folder.File("long-table"), new string('t', 65));
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("tableName");
    }

    [TestCase("order")]
    [TestCase("_Mixed_Case_9")]
    public async Task Constructor_UnusualButValidTableName_Works(string tableName)
    {
        using var cache = new SqliteCache(_folder.File("odd-names"), tableName);
        await cache.WriteAsync("k", "v"u8.ToArray());
        (await cache.ReadAsync("k")).Should().Equal("v"u8.ToArray());
    }

    // ---- bad files and schema versions ---------------------------------------------------------------------

    [TestCase(true)]
    [TestCase(false)]
    public void Constructor_FileIsNotADatabase_ThrowsInvalidDataExceptionNamingTheFile(bool walMode)
    {
        var path = _folder.File($"random-{walMode}.sqlite");
        var bytes = new byte[8192];
        new Random(42).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        var act = () => new SqliteCache(path, sqliteOptions: new SqliteCacheOptions { WalMode = walMode });

        act.Should().Throw<InvalidDataException>()
            .WithMessage($"*'{path}'*not a SQLite database*")
            .WithInnerException<SqliteException>();
        File.ReadAllBytes(path).Should().Equal(bytes, "a file that is not a database is never changed");
    }

    [Test]
    public void Backend_FileIsNotADatabase_ThrowsAtConstruction()
    {
        var path = _folder.File("random-backend.sqlite");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes(new string('x', 4096)));
        var act = () => new SqliteBackend(path);
        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*");
    }

    [Test]
    public async Task Constructor_NewerSchemaVersion_ThrowsNamingFileAndBothVersions()
    {
        var path = _folder.File("newer.sqlite");
        using (var cache = new SqliteCache(path))
        {
            await cache.WriteAsync("k", "v"u8.ToArray());
        }

        Execute(path, "UPDATE cachedhttp_schema SET version = 99 WHERE table_name = 'responses'");

        var act = () => new SqliteCache(path);

        act.Should().Throw<InvalidOperationException>()
            .WithMessage($"*'{path}'*version 99*version {SqliteCache.SchemaVersion}*");
        Query(path, "SELECT version FROM cachedhttp_schema WHERE table_name = 'responses'").Should().Equal(99L);
        Query(path, "SELECT COUNT(*) FROM responses").Single().Should().Be(1L, "a newer table is left as it is");
    }

    [Test]
    public async Task Constructor_LegacyLayoutWithoutVersion_MigratesAndKeepsRows()
    {
        var path = _folder.File("legacy.sqlite");
        Execute(path, """
            CREATE TABLE responses (key TEXT PRIMARY KEY, value BLOB);
            INSERT INTO responses VALUES ('old-1', x'010203'), ('old-2', x''), ('no-value', NULL);
            """);

        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var cache = new SqliteCache(path, timeProvider: time);

        (await cache.ReadAsync("old-1")).Should().Equal(1, 2, 3);
        (await cache.ReadAsync("old-2")).Should().BeEmpty();
        (await cache.ReadAsync("no-value")).Should().BeNull("a row without a value cannot be kept (value is NOT NULL now)");
        await cache.WriteAsync("new", "v"u8.ToArray(), time.GetUtcNow().AddHours(1));
        (await cache.ReadAsync("new")).Should().Equal("v"u8.ToArray());
        (await cache.CountAsync()).Should().Be(3);
        Query(path, "SELECT version FROM cachedhttp_schema WHERE table_name = 'responses'").Should().Equal((long)SqliteCache.SchemaVersion);
        Query(path, "SELECT name FROM pragma_table_info('responses') ORDER BY cid")
            .Should().Equal("key", "value", "delete_after", "created_at", "size", "last_used");
        Query(path, "SELECT name FROM sqlite_master WHERE name LIKE '%legacy%'").Should().BeEmpty();
    }

    [Test]
    public void Constructor_ForeignTableLayout_ThrowsAndLeavesTheTable()
    {
        var path = _folder.File("foreign.sqlite");
        Execute(path, "CREATE TABLE responses (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO responses VALUES (1, 'mine');");

        var act = () => new SqliteCache(path);

        act.Should().Throw<InvalidOperationException>().WithMessage($"*'{path}'*'responses'*not a CachedHttp cache table*");
        Query(path, "SELECT body FROM responses").Should().Equal("mine");
    }

    [Test]
    public async Task Constructor_ExistingCurrentFile_KeepsItsRows()
    {
        var path = _folder.File("reopen.sqlite");
        using (var cache = new SqliteCache(path))
        {
            await cache.WriteAsync("k", "v"u8.ToArray());
        }

        using var reopened = new SqliteCache(path);
        (await reopened.ReadAsync("k")).Should().Equal("v"u8.ToArray());
    }

    [Test]
    public void Constructor_WalMode_SetsJournalModeAndPragmas()
    {
        var path = _folder.File("wal.sqlite");
        using (new SqliteCache(path))
        {
            Query(path, "PRAGMA journal_mode").Should().Equal("wal");
        }

        var noWal = _folder.File("no-wal.sqlite");
        using (new SqliteCache(noWal, sqliteOptions: new SqliteCacheOptions { WalMode = false }))
        {
            Query(noWal, "PRAGMA journal_mode").Should().Equal("delete");
        }
    }

    // ---- expiry ----------------------------------------------------------------------------------------------

    [Test]
    public async Task DeleteExpired_UsesTheDeleteAfterIndex_AndCountsRows()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var cache = new SqliteCache(_folder.File("index"), timeProvider: time);
        for (var i = 0; i < 10; i++)
        {
            await cache.WriteAsync($"k{i}", "v"u8.ToArray(), i < 4 ? time.GetUtcNow().AddMinutes(1) : null);
        }

        var plan = string.Join("\n", cache.ExplainDeleteExpired());
        TestContext.Out.WriteLine(plan);
        plan.Should().Contain(cache.DeleteAfterIndexName).And.Contain("SEARCH");

        time.Advance(TimeSpan.FromMinutes(2));
        (await cache.CountAsync()).Should().Be(6, "expired rows are not counted even before they are deleted");
        (await cache.DeleteExpiredAsync()).Should().Be(4);
        (await cache.DeleteExpiredAsync()).Should().Be(0);
        Query(cache.Path, "SELECT COUNT(*) FROM responses").Should().Equal(6L);
    }

    [Test]
    public async Task Enumerations_SkipExpiredRows()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var cache = new SqliteCache(_folder.File("enumerate-expired"), timeProvider: time);
        await cache.WriteAsync("live", "v"u8.ToArray(), time.GetUtcNow().AddHours(1));
        await cache.WriteAsync("gone", "v"u8.ToArray(), time.GetUtcNow().AddSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));

        var keys = new List<string>();
        await foreach (var key in cache.GetKeysAsync())
        {
            keys.Add(key);
        }

        var entries = new List<string>();
        await foreach (var entry in cache.GetEntriesAsync())
        {
            entries.Add(entry.Key);
        }

        keys.Should().Equal("live");
        entries.Should().Equal("live");
        (await cache.ContainsAsync("gone")).Should().BeFalse();
    }

    // ---- concurrency -----------------------------------------------------------------------------------------

    [Test]
    public async Task FiveHundredConcurrentOperations_TwoInstancesOneFile_NoErrorAndNothingLost()
    {
        var path = _folder.File("concurrent.sqlite");
        using var first = new SqliteCache(path);
        using var second = new SqliteCache(path);
        var later = DateTimeOffset.UtcNow.AddHours(1);

        await Task.WhenAll(Enumerable.Range(0, 500).Select(i => Task.Run(async () =>
        {
            var cache = i % 2 == 0 ? first : second;
            var other = i % 2 == 0 ? second : first;
            var key = "k" + i.ToString(CultureInfo.InvariantCulture);
            var value = WriterValue("k", i);
            if (i % 10 == 0)
            {
                using var content = new MemoryStream(value);
                await cache.WriteStreamAsync(key, content, value.Length, later);
            }
            else
            {
                await cache.WriteAsync(key, value, i % 3 == 0 ? later : null);
            }

            (await other.ReadAsync(key)).Should().Equal(value);
            (await cache.ContainsAsync(key)).Should().BeTrue();
            if (i % 25 == 0)
            {
                await using var stream = await other.OpenReadStreamAsync(key);
                stream.Should().NotBeNull();
                await cache.CountAsync();
                await cache.DeleteExpiredAsync();
                await foreach (var unused in cache.GetKeysAsync())
                {
                }
            }

            if (i % 50 == 0)
            {
                await cache.WriteAsync("scratch" + i, value);
                (await cache.DeleteManyAsync(["scratch" + i, "missing"])).Should().Be(1);
            }
        })));

        (await first.CountAsync()).Should().Be(500);
        for (var i = 0; i < 500; i++)
        {
            (await second.ReadAsync("k" + i)).Should().Equal(WriterValue("k", i));
        }
    }

    [Test]
    public async Task TwoProcesses_WriteOneFile_NoErrorAndNothingLost()
    {
        const int PerWriter = 1500;
        var repository = FindRepositoryRoot();
        if (repository is null)
        {
            Assert.Ignore("The source tree (CachedHttp.sln) was not found above the test folder, so the writer process cannot be built.");
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var project = Path.Combine(repository, "test", "SqliteWriter", "SqliteWriter.csproj");
        var build = await RunProcessAsync(dotnet, ["build", project, "-c", Configuration, "--nologo", "-v", "q", "--disable-build-servers"], TimeSpan.FromMinutes(5));
        build.ExitCode.Should().Be(0, "the writer must build:\n" + build.Output);
        var writer = Path.Combine(repository, "test", "SqliteWriter", "bin", Configuration, "net10.0", "SqliteWriter.dll");

        var path = _folder.File("two-processes.sqlite");
        var startAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var startArgument = startAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var processes = new[] { "a", "b" }
            .Select(prefix => RunProcessAsync(dotnet, ["exec", writer, path, prefix, PerWriter.ToString(CultureInfo.InvariantCulture), startArgument], TimeSpan.FromMinutes(3)))
            .ToArray();

        // This process writes a third prefix at the same time.
        using var cache = new SqliteCache(path);
        var wait = startAt - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        var started = DateTimeOffset.UtcNow;
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, PerWriter), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, token) =>
        {
            await cache.WriteAsync("c" + i, WriterValue("c", i), cancellationToken: token);
            (await cache.ReadAsync("c" + i, token)).Should().Equal(WriterValue("c", i));
        });
        var ownWrites = stopwatch.Elapsed;
        var results = await Task.WhenAll(processes);
        TestContext.Out.WriteLine($"c: this process wrote {PerWriter} keys from {started:HH:mm:ss.fff} in {ownWrites.TotalMilliseconds:F0} ms");

        foreach (var result in results)
        {
            TestContext.Out.WriteLine(result.Output);
            result.ExitCode.Should().Be(0, result.Output);
            result.Errors.Should().BeEmpty();
        }

        foreach (var prefix in new[] { "a", "b", "c" })
        {
            for (var i = 0; i < PerWriter; i++)
            {
                (await cache.ReadAsync(prefix + i)).Should().Equal(WriterValue(prefix, i), $"key {prefix}{i}");
            }
        }

        (await cache.CountAsync()).Should().Be(3 * PerWriter);
    }

    // ---- incremental blob I/O -------------------------------------------------------------------------------

    [Test]
    [NonParallelizable] // the allocation counter is process-wide
    public async Task OpenReadStream_TwentyMegabyteValue_AllocatesFarLessThanTheValue()
    {
        const int Size = 20 * 1024 * 1024;
        var value = new byte[Size];
        new Random(7).NextBytes(value);
        using var cache = new SqliteCache(_folder.File("blob"));
        var buffer = new byte[64 * 1024];
        using (var warmUp = new MemoryStream(value, 0, 1024, writable: false))
        {
            await cache.WriteStreamAsync("warm-up", warmUp, 1024);
            await using var stream = await cache.OpenReadStreamAsync("warm-up");
            _ = await stream!.ReadAsync(buffer);
        }

        using var content = new MemoryStream(value, writable: false);
        var beforeWrite = GC.GetTotalAllocatedBytes(precise: true);
        await cache.WriteStreamAsync("big", content, Size);
        var writeAllocated = GC.GetTotalAllocatedBytes(precise: true) - beforeWrite;

        long total = 0;
        var equal = true;
        var beforeRead = GC.GetTotalAllocatedBytes(precise: true);
        await using (var stream = await cache.OpenReadStreamAsync("big"))
        {
            stream!.Length.Should().Be(Size);
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                equal &= buffer.AsSpan(0, read).SequenceEqual(value.AsSpan((int)total, read));
                total += read;
            }
        }

        var readAllocated = GC.GetTotalAllocatedBytes(precise: true) - beforeRead;
        TestContext.Out.WriteLine($"20 MB value: stream write allocated {writeAllocated:N0} bytes, stream read allocated {readAllocated:N0} bytes");

        total.Should().Be(Size);
        equal.Should().BeTrue("the stream returns the stored bytes");
        readAllocated.Should().BeLessThan(Size / 20, "the value is read piece by piece, never whole");
        writeAllocated.Should().BeLessThan(Size / 20, "the value is written piece by piece, never whole");
        (await cache.ReadAsync("big")).Should().Equal(value);
    }

    [Test]
    public async Task OpenReadStream_MissingOrExpiredKey_ReturnsNull()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var cache = new SqliteCache(_folder.File("stream-null"), timeProvider: time);
        await cache.WriteAsync("expiring", "v"u8.ToArray(), time.GetUtcNow().AddSeconds(1));
        (await cache.OpenReadStreamAsync("missing")).Should().BeNull();
        time.Advance(TimeSpan.FromSeconds(1));
        (await cache.OpenReadStreamAsync("expiring")).Should().BeNull();
    }

    [Test]
    public async Task OpenReadStream_ValueReplacedWhileOpen_ReadsTheSnapshot()
    {
        using var cache = new SqliteCache(_folder.File("snapshot"));
        await cache.WriteAsync("k", "old value"u8.ToArray());
        await using var stream = await cache.OpenReadStreamAsync("k");

        await cache.WriteAsync("k", "new"u8.ToArray());
        (await cache.DeleteAsync("other")).Should().BeFalse();

        using var copy = new MemoryStream();
        await stream!.CopyToAsync(copy);
        copy.ToArray().Should().Equal("old value"u8.ToArray());
        (await cache.ReadAsync("k")).Should().Equal("new"u8.ToArray());
    }

    [Test]
    public async Task WriteStream_ContentShorterThanLength_ThrowsAndKeepsPreviousValue()
    {
        using var cache = new SqliteCache(_folder.File("short-stream"));
        await cache.WriteAsync("k", "previous"u8.ToArray());

        var act = async () => await cache.WriteStreamAsync("k", new MemoryStream(new byte[10]), 100);

        await act.Should().ThrowAsync<EndOfStreamException>();
        (await cache.ReadAsync("k")).Should().Equal("previous"u8.ToArray());
    }

    [Test]
    public async Task WriteStream_ContentLongerThanLength_ThrowsAndWritesNothing()
    {
        using var cache = new SqliteCache(_folder.File("long-stream"));

        var act = async () => await cache.WriteStreamAsync("k", new MemoryStream(new byte[200_000]), 100_000);

        (await act.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("content");
        (await cache.ContainsAsync("k")).Should().BeFalse();
    }

    [Test]
    public async Task WriteStream_EmptyContent_StoresEmptyValue()
    {
        using var cache = new SqliteCache(_folder.File("empty-stream"));
        await cache.WriteStreamAsync("k", Stream.Null, 0);
        (await cache.ReadAsync("k")).Should().BeEmpty();
        await using var stream = await cache.OpenReadStreamAsync("k");
        stream!.Length.Should().Be(0);
    }

    // ---- backend and lifetime ------------------------------------------------------------------------------

    [Test]
    public async Task Backend_OneFile_HoldsResponsesAndRedirectsTables()
    {
        var path = _folder.File("backend");
        await using (var backend = new SqliteBackend(path))
        {
            backend.Path.Should().Be(path + ".sqlite");
            backend.Name.Should().Be("sqlite");
            backend.AutoClose.Should().BeTrue();
            backend.Responses.Should().BeOfType<SqliteCache>().Which.TableName.Should().Be("responses");
            backend.Redirects.Should().BeOfType<SqliteCache>().Which.TableName.Should().Be("redirects");
            await backend.Responses.WriteAsync("r", "1"u8.ToArray());
            await backend.Redirects.WriteAsync("r", "2"u8.ToArray());
            (await backend.Responses.ReadAsync("r")).Should().Equal("1"u8.ToArray());
        }

        Query(path + ".sqlite", "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .Should().Equal("cachedhttp_schema", "redirects", "responses");
        File.Exists(path + ".sqlite-wal").Should().BeFalse("disposing the backend closes every connection (the last one removes the WAL)");
    }

    [Test]
    public void Backend_AutoCloseOption_OverridesDefault()
    {
        using var backend = new SqliteBackend(_folder.File("autoclose"), new CacheOptions { AutoClose = false });
        backend.AutoClose.Should().BeFalse();
    }

    [Test]
    public async Task Dispose_ClosesConnections_AndLaterUseThrows()
    {
        var cache = new SqliteCache(_folder.File("dispose"));
        await cache.WriteAsync("k", "v"u8.ToArray());
        await foreach (var unused in cache.GetEntriesAsync())
        {
        }

        await cache.DisposeAsync();

        File.Exists(cache.Path + "-wal").Should().BeFalse("every connection is closed");
        var act = async () => await cache.ReadAsync("k");
        await act.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Test]
    public async Task Read_CancelledToken_Throws()
    {
        using var cache = new SqliteCache(_folder.File("cancel"));
        var act = async () => await cache.ReadAsync("k", new CancellationToken(canceled: true));
        await act.Should().ThrowAsync<OperationCanceledException>();
    }

    [Test]
    public async Task Write_SliceOfLargerArray_StoresOnlyTheSlice()
    {
        using var cache = new SqliteCache(_folder.File("slice"));
        var array = "0123456789"u8.ToArray();
        await cache.WriteAsync("k", array.AsMemory(2, 3));
        (await cache.ReadAsync("k")).Should().Equal("234"u8.ToArray());
    }

    // ---- measurement (informative) ---------------------------------------------------------------------------

    [Test]
    [NonParallelizable] // timing
    public async Task ReadAsync_OneKilobyteValue_IsCheap()
    {
        using var cache = new SqliteCache(_folder.File("timing"));
        var value = new byte[1024];
        new Random(3).NextBytes(value);
        for (var i = 0; i < 100; i++)
        {
            await cache.WriteAsync("k" + i, value);
        }

        for (var i = 0; i < 2000; i++)
        {
            await cache.ReadAsync("k" + (i % 100));
        }

        const int Reads = 10_000;
        var keys = Enumerable.Range(0, Reads).Select(i => "k" + (i % 100)).ToArray();
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var stopwatch = Stopwatch.StartNew();
        foreach (var key in keys)
        {
            _ = await cache.ReadAsync(key);
        }

        stopwatch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var perRead = stopwatch.Elapsed.TotalMicroseconds / Reads;

        // The floor: a bare prepared Microsoft.Data.Sqlite command on its own connection to the same file.
        using var connection = Open(cache.Path);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM responses WHERE key = $key AND (delete_after IS NULL OR delete_after > $now)";
        var keyParameter = command.Parameters.Add("$key", SqliteType.Text);
        command.Parameters.AddWithValue("$now", 0L);
        command.Prepare();
        stopwatch.Restart();
        foreach (var key in keys)
        {
            keyParameter.Value = key;
            using var reader = command.ExecuteReader();
            reader.Read();
            _ = reader.GetFieldValue<byte[]>(0);
        }

        var barePerRead = stopwatch.Elapsed.TotalMicroseconds / Reads;
        TestContext.Out.WriteLine(
            $"ReadAsync of a 1 KB value: {perRead:F1} µs per read, {allocated / Reads} bytes allocated per read ({Reads} reads); "
            + $"a bare prepared SqliteCommand: {barePerRead:F1} µs per read");
        perRead.Should().BeLessThan(1000);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>The values SqliteWriter writes (keep the two in step): a recognizable value of a few hundred bytes.</summary>
    private static byte[] WriterValue(string prefix, int i)
        => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat($"{prefix}{i};", 1 + (i % 40))));

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Execute(string path, string sql)
    {
        using var connection = Open(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<object> Query(string path, string sql)
    {
        using var connection = Open(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<object>();
        while (reader.Read())
        {
            values.Add(reader.GetValue(0));
        }

        return values;
    }

    private static string? FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "CachedHttp.sln")))
            {
                return folder.FullName;
            }
        }

        return null;
    }

    private static async Task<ProcessResult> RunProcessAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }

        return new ProcessResult(process.ExitCode, await output, await errors);
    }

    private sealed record ProcessResult(int ExitCode, string Output, string Errors);
}
