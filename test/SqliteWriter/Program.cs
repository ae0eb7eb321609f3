// SqliteWriter <file> <prefix> <count> <start-at-unix-ms>
//
// Waits until the start time (so that several processes start writing together), then writes <count> keys
// "<prefix><i>" to the table "responses" of <file> from 4 concurrent workers, reading each back; every 10th value
// goes through the blob stream API. Finally reads every key again. Exit status: 0 when every value read back
// equals what was written, 1 on any error (printed to stderr), 2 on bad arguments.
using System.Globalization;
using System.Text;
using CachedHttp.Sqlite;

if (args.Length != 4
    || !int.TryParse(args[2], CultureInfo.InvariantCulture, out var count)
    || !long.TryParse(args[3], CultureInfo.InvariantCulture, out var startAt))
{
    Console.Error.WriteLine("usage: SqliteWriter <file> <prefix> <count> <start-at-unix-ms>");
    return 2;
}

var (file, prefix) = (args[0], args[1]);
try
{
    using var cache = new SqliteCache(file, "responses");
    var wait = startAt - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    if (wait > 0)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(wait));
    }

    var started = DateTimeOffset.UtcNow;

    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, cancellationToken) =>
    {
        var key = prefix + i.ToString(CultureInfo.InvariantCulture);
        var value = Value(prefix, i);
        if (i % 10 == 0)
        {
            using var content = new MemoryStream(value);
            await cache.WriteStreamAsync(key, content, value.Length, cancellationToken: cancellationToken);
        }
        else
        {
            await cache.WriteAsync(key, value, cancellationToken: cancellationToken);
        }

        Check(key, value, await cache.ReadAsync(key, cancellationToken));
        if (i % 50 == 0)
        {
            await cache.CountAsync(cancellationToken);
            await cache.DeleteExpiredAsync(cancellationToken);
        }
    });

    for (var i = 0; i < count; i++)
    {
        var key = prefix + i.ToString(CultureInfo.InvariantCulture);
        Check(key, Value(prefix, i), await cache.ReadAsync(key));
    }

    Console.WriteLine($"{prefix}: {count} keys written and read back, from {started:HH:mm:ss.fff} to {DateTimeOffset.UtcNow:HH:mm:ss.fff} UTC");
    return 0;
}
catch (Exception exception)
{
    Console.Error.WriteLine(exception);
    return 1;
}

// The same rule as SqliteCacheTests.WriterValue: a recognizable value of a few hundred bytes.
static byte[] Value(string prefix, int i)
    => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat($"{prefix}{i};", 1 + (i % 40))));

static void Check(string key, byte[] expected, byte[]? actual)
{
    if (actual is null || !actual.AsSpan().SequenceEqual(expected))
    {
        throw new InvalidDataException($"Key '{key}' read back {(actual is null ? "nothing" : actual.Length + " wrong bytes")}.");
    }
}
