using System.Diagnostics;
using System.Globalization;
using CachedHttp.CrashWriter;
using CachedHttp.Internal;
using CachedHttp.Sqlite;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Tests.Integration.Robustness;

/// <summary>
/// Issue 6, crash during heavy writes: a process killed (SIGKILL) while it writes entries as fast as it can leaves a
/// cache that opens, never serves a torn entry, can be swept and cleared, and takes a new writer. The writer is
/// test/CrashWriter; what it writes and how an entry is verified are in its CrashEntries.cs, compiled in here too.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class CrashTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private const int Kills = 5;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private string _folder = null!;

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "cachedhttp-crash-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException exception)
        {
            TestContext.Out.WriteLine($"Could not delete {_folder}: {exception.Message}");
        }
    }

    [TestCase("sqlite")]
    [TestCase("file")]
    [TestCase("file-readable")]
    public async Task WriterKilledDuringHeavyWrites_CacheOpensAndServesNoTornEntry(string store)
    {
        var writer = LocateWriter();
        var path = Path.Combine(_folder, store == "sqlite" ? "cache.sqlite" : "cache");
        var seed = Random.Shared.Next();
        var random = new Random(seed);
        TestContext.Out.WriteLine($"{store}: kill delays from seed {seed}");

        for (var run = 1; run <= Kills; run++)
        {
            var delay = random.Next(100, 601);
            var (saved, killedAfter) = await RunAndKillAsync(writer, store, path, run, TimeSpan.FromMilliseconds(delay));
            var result = await VerifyAsync(store, path, run);
            TestContext.Out.WriteLine(
                $"{store} round {run}: writer killed {killedAfter.TotalMilliseconds:F0} ms after its first save (at least {saved} saves reported); "
                + $"{result.Hits} entries verified ({result.HitsOfRun} written by this writer, {result.AliasHits} through aliases), "
                + $"{result.Misses} misses of which {result.Undecodable} undecodable leftovers and {result.ExpiredLeftovers} expired; {result.Leftovers}");
            result.HitsOfRun.Should().BeGreaterThan(0, $"writer {run} must have saved entries that the next process serves");
        }

        // The sweep and the clear work on what the kills left.
        using (var backend = Open(store, path))
        {
            var swept = await backend.DeleteExpiredResponsesAsync();
            var leftovers = await AssertNothingExpiredOrStrayAsync(store, backend);
            TestContext.Out.WriteLine($"{store}: the sweep removed {swept} entries; {leftovers} entries left, all live");
        }

        // A new writer continues: every entry it writes reads back exactly.
        const int FinalRun = Kills + 1;
        var final = await RunToEndAsync(writer, store, path, FinalRun, CrashEntries.KeySpace);
        final.ExitCode.Should().Be(0, final.Errors);
        final.Output.Should().Contain("wrote " + CrashEntries.KeySpace.ToString(CultureInfo.InvariantCulture));
        using (var backend = Open(store, path))
        {
            var verified = 0;
            for (var sequence = 0L; sequence < CrashEntries.KeySpace; sequence++)
            {
                var index = CrashEntries.IndexFor(FinalRun, sequence);
                var generation = CrashEntries.Generation(FinalRun, sequence);
                var response = await backend.GetResponseAsync(Key(backend, CrashEntries.Url(index)));
                var viaAlias = await backend.GetResponseAsync(Key(backend, CrashEntries.AliasUrl(index)));
                if (CrashEntries.IsExpired(index, generation))
                {
                    response.Should().BeNull($"entry {index} was written expired");
                    continue;
                }

                response.Should().NotBeNull($"entry {index} was written by the last writer");
                CrashEntries.Verify(response!, index).Should().Be(generation);
                if (CrashEntries.HasAlias(generation))
                {
                    viaAlias.Should().NotBeNull($"entry {index} was written with an alias");
                    CrashEntries.Verify(viaAlias!, index).Should().Be(generation);
                }

                verified++;
            }

            TestContext.Out.WriteLine($"{store}: a new writer wrote {CrashEntries.KeySpace} entries after the kills; {verified} live ones verified");
            await backend.ClearAsync();
            (await backend.Responses.CountAsync()).Should().Be(0);
            (await backend.Redirects.CountAsync()).Should().Be(0);
            if (store == "sqlite")
            {
                Scalar(path, "SELECT COUNT(*) FROM responses").Should().Be(0L);
                Scalar(path, "SELECT COUNT(*) FROM redirects").Should().Be(0L);
            }
            else
            {
                Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Should().BeEmpty("Clear removes every file of both formats");
            }
        }
    }

    // ---- verification ------------------------------------------------------------------------------------------

    private static async Task<RoundResult> VerifyAsync(string store, string path, int run)
    {
        // Opening must succeed whatever the kill left.
        using var backend = Open(store, path);
        var entryKeys = Enumerable.Range(0, CrashEntries.KeySpace).ToDictionary(i => Key(backend, CrashEntries.Url(i)), i => i, StringComparer.Ordinal);
        var aliasKeys = Enumerable.Range(0, CrashEntries.KeySpace).ToDictionary(i => Key(backend, CrashEntries.AliasUrl(i)), i => i, StringComparer.Ordinal);
        await foreach (var key in backend.Responses.GetKeysAsync())
        {
            entryKeys.Should().ContainKey(key, "every stored key is one the writer wrote");
        }

        await foreach (var key in backend.Redirects.GetKeysAsync())
        {
            aliasKeys.Should().ContainKey(key, "every stored alias is one the writer wrote");
        }

        int hits = 0, hitsOfRun = 0, misses = 0, undecodable = 0, expired = 0, aliasHits = 0;
        foreach (var (key, index) in entryKeys)
        {
            var raw = await backend.Responses.ReadAsync(key);
            var response = await backend.GetResponseAsync(key);
            if (response is not null)
            {
                var generation = CrashEntries.Verify(response, index);
                hits++;
                hitsOfRun += CrashEntries.RunOf(generation) == run ? 1 : 0;
                continue;
            }

            misses++;
            if (raw is null)
            {
                continue;
            }

            // Stored but not served: it must be undecodable, or decode to a complete entry that has expired.
            CachedResponse decoded;
            try
            {
                decoded = backend.Serializer.Deserialize(raw, key);
            }
            catch (CacheFormatException)
            {
                undecodable++;
                continue;
            }

            var decodedGeneration = CrashEntries.Verify(decoded, index);
            decoded.IsExpired(DateTimeOffset.UtcNow).Should().BeTrue($"entry {index} (generation {decodedGeneration}) decodes and verifies, so only expiry may make it a miss");
            expired++;
        }

        foreach (var (key, index) in aliasKeys)
        {
            if (await backend.GetResponseAsync(key) is { } response)
            {
                CrashEntries.Verify(response, index);
                aliasHits++;
            }
        }

        var enumerated = 0;
        await foreach (var response in backend.GetResponsesAsync(includeExpired: false))
        {
            CrashEntries.Verify(response, CrashEntries.IndexOf(response.Url));
            enumerated++;
        }

        enumerated.Should().Be(hits, "the enumeration serves the same live entries as the lookups");
        return new RoundResult(hits, hitsOfRun, misses, undecodable, expired, aliasHits, DescribeLeftovers(store, path));
    }

    /// <summary>After the sweep: no expired value and no stray file (temporary file or body without its .json) is left.</summary>
    private static async Task<long> AssertNothingExpiredOrStrayAsync(string store, CacheBackend backend)
    {
        var live = await backend.Responses.CountAsync();
        if (store == "sqlite")
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            var path = ((SqliteBackend)backend).Path;
            Scalar(path, "PRAGMA integrity_check").Should().Be("ok");
            Scalar(path, $"SELECT COUNT(*) FROM responses WHERE delete_after <= {now}").Should().Be(0L);
            Scalar(path, $"SELECT COUNT(*) FROM redirects WHERE delete_after <= {now}").Should().Be(0L);
            return live;
        }

        var responses = ((FileCache)backend.Responses).StoreDirectory;
        var files = Directory.EnumerateFiles(((FileBackend)backend).Directory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        files.Where(f => f!.EndsWith(".tmp", StringComparison.Ordinal)).Should().BeEmpty("the sweep removes temporary files older than the retention (zero here)");
        var jsons = files.Where(f => f!.EndsWith(".json", StringComparison.Ordinal)).Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet();
        files.Where(f => f!.EndsWith(".body", StringComparison.Ordinal) && !jsons.Contains(Path.GetFileNameWithoutExtension(f)))
            .Should().BeEmpty("the sweep removes bodies whose .json never landed");
        var entryFiles = Directory.EnumerateFiles(responses).Count(f => f.EndsWith(".chc", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal));
        entryFiles.Should().Be((int)live, "every entry file left after the sweep is a live entry");
        return live;
    }

    private static string DescribeLeftovers(string store, string path)
    {
        if (store == "sqlite")
        {
            var wal = new FileInfo(path + "-wal");
            return $"WAL {(wal.Exists ? wal.Length / 1024 : 0)} KiB, integrity_check {Scalar(path, "PRAGMA integrity_check")}";
        }

        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        return $"{files.Count(f => f!.EndsWith(".tmp", StringComparison.Ordinal))} temporary files left by the kill";
    }

    private static CacheBackend Open(string store, string path) => store switch
    {
        "sqlite" => new SqliteBackend(path),
        "file" => new FileBackend(path, fileOptions: new FileCacheOptions { TempFileRetention = TimeSpan.Zero }),
        _ => new FileBackend(path, fileOptions: new FileCacheOptions { ReadableFormat = true, TempFileRetention = TimeSpan.Zero }),
    };

    private static string Key(CacheBackend backend, Uri url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        return backend.CreateKey(request);
    }

    private static object? Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private sealed record RoundResult(int Hits, int HitsOfRun, int Misses, int Undecodable, int ExpiredLeftovers, int AliasHits, string Leftovers);

    // ---- the writer process ------------------------------------------------------------------------------------

    /// <summary>
    /// The writer's assembly, built with the tests (the test project references CrashWriter without referencing its
    /// output); ignored when the source tree is not there.
    /// </summary>
    private static string LocateWriter()
    {
        for (var folder = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "CachedHttp.sln")))
            {
                var writer = Path.Combine(folder.FullName, "test", "CrashWriter", "bin", Configuration, "net10.0", "CrashWriter.dll");
                Assert.That(writer, Does.Exist, "CrashWriter is built with the integration tests (ProjectReference)");
                return writer;
            }
        }

        Assert.Ignore("The source tree (CachedHttp.sln) was not found above the test folder, so the writer process cannot be found.");
        return null!;
    }

    private static ProcessStartInfo StartInfo(string writer, IEnumerable<string> arguments)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["exec", writer, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>
    /// Starts an endless writer, waits for its first saved entry, lets it write for <paramref name="delay"/>, and kills it.
    /// The watching and the kill run on a thread of their own, so that a thread pool busy with other tests cannot delay them.
    /// </summary>
    private static async Task<(long Saved, TimeSpan KilledAfter)> RunAndKillAsync(string writer, string store, string path, int run, TimeSpan delay)
    {
        using var process = Process.Start(StartInfo(writer, [store, path, run.ToString(CultureInfo.InvariantCulture)]))!;
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();

        long saved = 0;
        var killedAfter = TimeSpan.Zero;
        var exitedBeforeKill = false;
        var watcher = new Thread(() =>
        {
            while (process.StandardOutput.ReadLine() is { } line)
            {
                if (line == "started" && killedAfter == TimeSpan.Zero)
                {
                    saved = Math.Max(saved, 1);
                    var stopwatch = Stopwatch.StartNew();
                    Thread.Sleep(delay);
                    exitedBeforeKill = process.HasExited;
                    process.Kill(entireProcessTree: true); // SIGKILL: no finally block, no dispose, no flush runs in the writer
                    killedAfter = stopwatch.Elapsed;
                }
                else if (line.StartsWith("saved ", StringComparison.Ordinal))
                {
                    saved = long.Parse(line.AsSpan(6), CultureInfo.InvariantCulture); // lines the writer wrote before the kill
                }
            }
        })
        { IsBackground = true, Name = "CrashTests killer" };
        watcher.Start();

        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"writer {run} did not save a first entry within {StartTimeout}: {errors}");
        }

        watcher.Join();
        Assert.That(killedAfter, Is.GreaterThan(TimeSpan.Zero), $"writer {run} exited with {process.ExitCode} before saving an entry: {errors}");
        Assert.That(exitedBeforeKill, Is.False, $"an endless writer runs until it is killed; writer {run} exited with {process.ExitCode}: {errors}");
        return (saved, killedAfter);
    }

    private static async Task<(int ExitCode, string Output, string Errors)> RunToEndAsync(string writer, string store, string path, int run, int count)
    {
        using var process = Process.Start(StartInfo(writer, [store, path, run.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture)]))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"writer {run} did not write {count} entries within 2 minutes");
        }

        return (process.ExitCode, await output, await errors);
    }
}
