using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace CachedHttp.Redis;

/// <content>Inspection without reading values whole: sizes, TTLs, idle times and value prefixes, pipelined per SCAN page.</content>
public partial class RedisCache
{
    private volatile bool _idleTimeUnsupported;

    /// <inheritdoc />
    /// <remarks>
    /// <c>SCAN</c> on every primary node, then for each key of a page, pipelined: <c>OBJECT IDLETIME</c> (the last use,
    /// to the second; unknown under an LFU <c>maxmemory-policy</c>), <c>PTTL</c> (the delete-after time), <c>STRLEN</c>,
    /// and <c>GETRANGE</c> for the first <paramref name="headBytes"/> bytes. Values are never read whole, and the idle
    /// time is read before the prefix so that listing does not count as a use.
    /// </remarks>
    public override async IAsyncEnumerable<StoredEntryInfo> GetEntryInfosAsync(int headBytes = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        await foreach (var page in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            var count = page.Length;
            var idle = new Task<TimeSpan?>[count];
            var ttl = new Task<RedisResult>[count];
            var length = new Task<long>[count];
            var head = new Task<RedisValue>[headBytes > 0 ? count : 0];
            await Run(
                async () =>
                {
                    // Issued in this order on each connection, so each key's idle time is read before GETRANGE touches it.
                    for (var i = 0; i < count; i++)
                    {
                        idle[i] = IdleTimeAsync(page[i]);
                        ttl[i] = _database.ExecuteAsync("PTTL", page[i]);
                        length[i] = _database.StringLengthAsync(page[i]);
                        if (headBytes > 0)
                        {
                            head[i] = _database.StringGetRangeAsync(page[i], 0, headBytes - 1);
                        }
                    }

                    await Task.WhenAll(idle.Cast<Task>().Concat(ttl).Concat(length).Concat(head)).ConfigureAwait(false);
                    return true;
                },
                "GETRANGE",
                cancellationToken).ConfigureAwait(false);

            var now = TimeProvider.GetUtcNow();
            for (var i = 0; i < count; i++)
            {
                var milliseconds = (long)ttl[i].Result;
                if (milliseconds == -2 || !TryGetStorageKey(page[i], out var key))
                {
                    continue; // expired or deleted between SCAN and now
                }

                yield return new StoredEntryInfo(key, length[i].Result)
                {
                    DeleteAfter = milliseconds >= 0 ? now.AddMilliseconds(milliseconds) : null,
                    LastUsedAt = idle[i].Result is { } idleTime ? now - idleTime : null,
                    Head = headBytes > 0 ? (byte[])head[i].Result! ?? [] : ReadOnlyMemory<byte>.Empty,
                };
            }
        }
    }

    /// <inheritdoc />
    /// <remarks><c>SCAN</c> on every primary node, then one <c>STRLEN</c> per key, pipelined per page.</remarks>
    public override async ValueTask<long> GetTotalBytesAsync(CancellationToken cancellationToken = default)
    {
        long total = 0;
        await foreach (var page in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            var lengths = await Run(() => Task.WhenAll(page.Select(key => _database.StringLengthAsync(key))), "STRLEN", cancellationToken).ConfigureAwait(false);
            total += lengths.Sum();
        }

        return total;
    }

    /// <summary><c>OBJECT IDLETIME</c>, or null once the server has said it does not track idle times (an LFU eviction policy).</summary>
    private async Task<TimeSpan?> IdleTimeAsync(RedisKey key)
    {
        if (_idleTimeUnsupported)
        {
            return null;
        }

        try
        {
            return await _database.KeyIdleTimeAsync(key).ConfigureAwait(false);
        }
        catch (RedisServerException)
        {
            _idleTimeUnsupported = true;
            return null;
        }
    }
}
