using System.Globalization;
using System.Runtime.CompilerServices;
using Amazon.DynamoDBv2.Model;
using static CachedHttp.DynamoDB.Internal.DynamoDbTable;

namespace CachedHttp.DynamoDB;

/// <summary>Enumerations, counts and sweeps: paginated Scans filtered on this store's key prefix, one page in memory at a time.</summary>
public partial class DynamoDbCache
{
    /// <summary>Live heads of this store: <c>begins_with(k, "{store}:")</c>, not past their delete-after time. Chunk items (<c>{store}#…</c>) never match.</summary>
    private const string LiveHeadsFilter = "begins_with(#k, :p) AND (attribute_not_exists(#x) OR #x > :now)";

    /// <inheritdoc />
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var page in ScanLiveHeadsAsync("#k", countOnly: false, cancellationToken).ConfigureAwait(false))
        {
            foreach (var item in page.Items ?? [])
            {
                if (UserKey(item) is { } key)
                {
                    yield return key;
                }
            }
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var page in ScanLiveHeadsAsync(projection: null, countOnly: false, cancellationToken).ConfigureAwait(false))
        {
            foreach (var item in page.Items ?? [])
            {
                if (UserKey(item) is not { } key)
                {
                    continue;
                }

                // A chunked value whose chunks changed since the scan saw its head is read again, head first.
                var value = await AssembleAsync(item, cancellationToken).ConfigureAwait(false)
                    ?? await ReadAsync(key, cancellationToken).ConfigureAwait(false);
                if (value is not null)
                {
                    yield return new KeyValuePair<string, byte[]>(key, value);
                }
            }
        }
    }

    /// <inheritdoc />
    public override async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        long count = 0;
        await foreach (var page in ScanLiveHeadsAsync(projection: null, countOnly: true, cancellationToken).ConfigureAwait(false))
        {
            count += page.Count ?? 0;
        }

        return count;
    }

    /// <inheritdoc />
    /// <remarks>Scans this store's items (heads and chunks; other stores in the table are untouched) and deletes them with BatchWriteItem, page by page.</remarks>
    public override async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { ["#k"] = KeyAttribute };
        var values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            [":p"] = new AttributeValue { S = _headPrefix },
            [":c"] = new AttributeValue { S = _chunkPrefix },
        };
        await foreach (var page in _table.ScanAsync("begins_with(#k, :p) OR begins_with(#k, :c)", names, values, "#k", countOnly: false, cancellationToken).ConfigureAwait(false))
        {
            var keys = (page.Items ?? []).Select(item => item[KeyAttribute].S).Distinct(StringComparer.Ordinal);
            await _table.BatchWriteAsync(keys.Select(DeleteRequestFor), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// DynamoDB's Time to Live deletes expired items by itself, but late (up to about 48 hours) and not at all where
    /// TTL is off or unsupported (dynalite); this scans this store for items past their delete-after time and deletes
    /// them with their chunks.
    /// </remarks>
    /// <returns>The number of values removed (chunk items are not counted).</returns>
    public override async ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
    {
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var names = new Dictionary<string, string>(ChunkPointerNames, StringComparer.Ordinal) { ["#x"] = ExpiresAttribute };
        var values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            [":p"] = new AttributeValue { S = _headPrefix },
            [":c"] = new AttributeValue { S = _chunkPrefix },
            [":now"] = NowValue(),
        };
        var removed = 0;
        const string filter = "(begins_with(#k, :p) OR begins_with(#k, :c)) AND #x <= :now";
        await foreach (var page in _table.ScanAsync(filter, names, values, "#k, #n, #w", countOnly: false, cancellationToken).ConfigureAwait(false))
        {
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in page.Items ?? [])
            {
                var itemKey = item[KeyAttribute].S;
                keys.Add(itemKey);
                if (itemKey.StartsWith(_headPrefix, StringComparison.Ordinal))
                {
                    removed++;
                    keys.UnionWith(ChunkKeysOf(item));
                }
            }

            await _table.BatchWriteAsync(keys.Select(DeleteRequestFor), cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    private IAsyncEnumerable<ScanResponse> ScanLiveHeadsAsync(string? projection, bool countOnly, CancellationToken cancellationToken)
    {
        var names = new Dictionary<string, string>(ExpiresNames, StringComparer.Ordinal) { ["#k"] = KeyAttribute };
        var values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            [":p"] = new AttributeValue { S = _headPrefix },
            [":now"] = NowValue(),
        };
        return _table.ScanAsync(LiveHeadsFilter, names, values, projection, countOnly, cancellationToken);
    }

    private AttributeValue NowValue() => new() { N = TimeProvider.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) };

    private string? UserKey(Dictionary<string, AttributeValue> item)
        => item.TryGetValue(KeyAttribute, out var key) && key.S is { } text && text.StartsWith(_headPrefix, StringComparison.Ordinal)
            ? text[_headPrefix.Length..]
            : null;
}
