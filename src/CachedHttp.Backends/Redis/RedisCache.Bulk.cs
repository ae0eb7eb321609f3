using System.Runtime.CompilerServices;
using System.Text;
using StackExchange.Redis;

namespace CachedHttp.Redis;

/// <content>Bulk operations: SCAN on every primary, UNLINK and MGET in batches split by hash slot.</content>
public partial class RedisCache
{
    private readonly string _scanPattern;
    private volatile bool _unlinkUnsupported;

    /// <inheritdoc />
    /// <remarks>Pipelined <c>UNLINK</c> commands of up to <see cref="RedisCacheOptions.ScanBatchSize"/> keys (per hash slot in Redis Cluster).</remarks>
    public override async ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        long deleted = 0;
        foreach (var batch in keys.Select(GetRedisKey).Chunk(_batchSize))
        {
            deleted += await UnlinkAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        return (int)Math.Min(deleted, int.MaxValue);
    }

    /// <inheritdoc />
    /// <remarks><c>SCAN</c> on every primary node: O(n) in the number of keys of the database.</remarks>
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var page in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var redisKey in page)
            {
                if (TryGetStorageKey(redisKey, out var key))
                {
                    yield return key;
                }
            }
        }
    }

    /// <inheritdoc />
    /// <remarks><c>SCAN</c> on every primary node, then one <c>MGET</c> per page (per hash slot in Redis Cluster), pipelined.</remarks>
    public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var page in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            var groups = BySlot(page);
            var values = await Run(() => Task.WhenAll(groups.Select(group => _database.StringGetAsync(group))), "MGET", cancellationToken).ConfigureAwait(false);
            for (var g = 0; g < groups.Count; g++)
            {
                for (var i = 0; i < groups[g].Length; i++)
                {
                    // A key that expired or was deleted between SCAN and MGET reads as null.
                    if (!values[g][i].IsNull && TryGetStorageKey(groups[g][i], out var key))
                    {
                        yield return new KeyValuePair<string, byte[]>(key, (byte[])values[g][i]!);
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    /// <remarks><c>SCAN</c> on every primary node: O(n) in the number of keys of the database.</remarks>
    public override async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        long count = 0;
        await foreach (var page in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            count += page.Length;
        }

        return count;
    }

    /// <inheritdoc />
    /// <remarks>
    /// <c>SCAN</c> on every primary node for this store's prefix, and <c>UNLINK</c> of each page as it comes. Keys of
    /// other prefixes and stores are left alone. Never uses <c>KEYS</c> or <c>FLUSHDB</c>.
    /// </remarks>
    public override async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        await foreach (var page in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            await UnlinkAsync(page, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes keys with pipelined <c>UNLINK</c> commands, one per hash slot and batch.</summary>
    /// <returns>The number of keys that existed.</returns>
    private async Task<long> UnlinkAsync(RedisKey[] keys, CancellationToken cancellationToken)
    {
        if (keys.Length == 0)
        {
            return 0;
        }

        var groups = BySlot(keys);
        if (!_unlinkUnsupported)
        {
            try
            {
                return await DeleteGroupsAsync("UNLINK", groups, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (ex.Message.Contains("unknown command", StringComparison.OrdinalIgnoreCase))
            {
                // Redis before 4.0. Deleting again is harmless: DEL of a key already gone counts nothing.
                _unlinkUnsupported = true;
            }
        }

        return await DeleteGroupsAsync("DEL", groups, cancellationToken).ConfigureAwait(false);
    }

    private async Task<long> DeleteGroupsAsync(string command, List<RedisKey[]> groups, CancellationToken cancellationToken)
    {
        // Each group is one command; issued together, they share the round trips (the multiplexer pipelines them).
        var results = await Run(
            () => Task.WhenAll(groups.Select(group => _database.ExecuteAsync(command, group.Cast<object>().ToArray()))),
            command,
            cancellationToken).ConfigureAwait(false);
        return results.Sum(result => (long)result);
    }

    /// <summary>Splits keys into groups that one multi-key command may take: one hash slot (cluster), at most a batch each.</summary>
    private List<RedisKey[]> BySlot(RedisKey[] keys)
    {
        var groups = new List<RedisKey[]>();
        foreach (var slot in keys.GroupBy(key => Connection.HashSlot(key)))
        {
            // HashSlot is -1 outside a cluster: then every key goes in one group.
            groups.AddRange(slot.Chunk(_batchSize));
        }

        return groups;
    }

    /// <summary>Pages of this store's keys, from a <c>SCAN</c> of every node that holds a part of the keyspace.</summary>
    private async IAsyncEnumerable<RedisKey[]> ScanAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ThrowIfDisconnected("SCAN");
        foreach (var server in ScanTargets())
        {
            RedisValue cursor = 0;
            do
            {
                var scanned = cursor;
                var reply = await Run(
                    () => server.ExecuteAsync(_database.Database, "SCAN", [scanned, "MATCH", _scanPattern, "COUNT", _batchSize], CommandFlags.DemandMaster),
                    "SCAN",
                    cancellationToken).ConfigureAwait(false);
                var parts = (RedisResult[])reply!;
                cursor = (RedisValue)parts[0];
                var page = (RedisKey[])parts[1]!;
                if (page.Length > 0)
                {
                    yield return page;
                }
            }
            while (cursor != 0);
        }
    }

    /// <summary>The servers to scan: every primary of a cluster, else the one primary that this storage writes to.</summary>
    private IServer[] ScanTargets()
    {
        var servers = Connection.GetServers();
        if (servers.Any(server => server.ServerType == ServerType.Cluster))
        {
            return servers.Where(server => !server.IsReplica).ToArray();
        }

        return [Connection.GetServer(GetRedisKey(string.Empty), flags: CommandFlags.DemandMaster)];
    }

    private bool TryGetStorageKey(RedisKey redisKey, out string key)
    {
        var text = (string?)redisKey;
        if (text is not null && text.StartsWith(KeyPrefix, StringComparison.Ordinal))
        {
            key = text[KeyPrefix.Length..];
            return true;
        }

        key = string.Empty;
        return false;
    }

    /// <summary>Escapes the characters that are special in a Redis glob pattern, so that a prefix matches only itself.</summary>
    private static string EscapeGlob(string text)
    {
        var builder = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }
}
