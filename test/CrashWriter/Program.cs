// CrashWriter <sqlite|file|file-readable> <path> <run> [<count>]
//
// Opens a CacheBackend (SqliteBackend on <path>, or FileBackend in <path>, binary or readable format) and saves the
// entries of CrashEntries from 8 concurrent workers as fast as it can: large and varied bodies, overwrites (the writer
// cycles through CrashEntries.KeySpace URLs), redirect aliases, already-expired entries, deletes and expiry sweeps.
// Prints "started" once the first entry is saved, then "saved <n>" every 25 entries. Without <count> it runs until it is killed (CrashTests kill it with
// SIGKILL); with <count> it saves exactly that many entries (no deletes or sweeps), prints "wrote <count>" and exits.
// Exit status: 0 when a counted run completes, 1 on any error (printed to stderr), 2 on bad arguments.
using System.Globalization;
using CachedHttp;
using CachedHttp.CrashWriter;
using CachedHttp.Sqlite;

if (args.Length is < 3 or > 4
    || args[0] is not ("sqlite" or "file" or "file-readable")
    || !int.TryParse(args[2], NumberStyles.None, CultureInfo.InvariantCulture, out var run)
    || (args.Length == 4 && !long.TryParse(args[3], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
{
    Console.Error.WriteLine("usage: CrashWriter <sqlite|file|file-readable> <path> <run> [<count>]");
    return 2;
}

const int Workers = 8;
long? count = args.Length == 4 ? long.Parse(args[3], CultureInfo.InvariantCulture) : null;
try
{
    using var backend = args[0] == "sqlite"
        ? (CacheBackend)new SqliteBackend(args[1])
        : new FileBackend(args[1], fileOptions: new FileCacheOptions { ReadableFormat = args[0] == "file-readable" });
    long next = -1;
    long saved = 0;

    await Parallel.ForEachAsync(Enumerable.Range(0, Workers), new ParallelOptions { MaxDegreeOfParallelism = Workers }, async (_, cancellationToken) =>
    {
        while (true)
        {
            var sequence = Interlocked.Increment(ref next);
            if (sequence >= count)
            {
                return;
            }

            var index = CrashEntries.IndexFor(run, sequence);
            var generation = CrashEntries.Generation(run, sequence);
            var aliases = CrashEntries.HasAlias(generation) ? new[] { Key(backend, CrashEntries.AliasUrl(index)) } : [];
            var response = CrashEntries.Create(index, generation, DateTimeOffset.UtcNow, aliases);
            await backend.SaveResponseAsync(response, Key(backend, CrashEntries.Url(index)), cancellationToken);
            var done = Interlocked.Increment(ref saved);
            if (done == 1)
            {
                Console.WriteLine("started");
            }
            else if (done % 25 == 0)
            {
                Console.WriteLine($"saved {done}");
            }

            if (count is null && sequence % 97 == 96)
            {
                var victim = CrashEntries.IndexFor(run, sequence + (CrashEntries.KeySpace / 2));
                await backend.DeleteAsync(Key(backend, CrashEntries.Url(victim)), cancellationToken);
            }

            if (count is null && sequence % 401 == 400)
            {
                await backend.DeleteExpiredResponsesAsync(cancellationToken);
            }
        }
    });

    Console.WriteLine($"wrote {count}");
    return 0;
}
catch (Exception exception)
{
    Console.Error.WriteLine(exception);
    return 1;
}

static string Key(CacheBackend backend, Uri url)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, url);
    return backend.CreateKey(request);
}
