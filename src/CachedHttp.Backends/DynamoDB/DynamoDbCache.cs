using System.Runtime.InteropServices;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using CachedHttp.DynamoDB.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static CachedHttp.DynamoDB.Internal.DynamoDbTable;

namespace CachedHttp.DynamoDB;

/// <summary>
/// Storage in an Amazon DynamoDB table. The stores of a backend share one table: each item's partition key
/// <c>k</c> is <c>{storeName}:{key}</c> (<c>resp:</c> and <c>redir:</c>, as in the original).
/// </summary>
/// <remarks>
/// <para>Thread-safe. The table is created on first use when <see cref="DynamoDbCacheOptions.CreateIfNotExists"/> is on.</para>
/// <para>
/// <b>Expiry.</b> An item with a delete-after time carries the Time to Live attribute
/// (<see cref="DynamoDbCacheOptions.TtlAttributeName"/>, epoch seconds). DynamoDB deletes such items lazily (up to
/// about 48 hours late), so reads, enumerations and counts also hide items whose time has passed, by this storage's
/// <see cref="TimeProvider"/>. <see cref="DeleteExpiredAsync"/> removes them at once (useful where TTL is unavailable,
/// as on dynalite).
/// </para>
/// <para>
/// <b>Large values.</b> A value over <see cref="DynamoDbCacheOptions.ChunkSize"/> is split: chunk items keyed
/// <c>{storeName}#{writeId}#{index}</c> are written first (BatchWriteItem), then the head item, which holds the first
/// chunk, the chunk count and the write id; the replaced value's chunks are deleted last. A reader therefore sees
/// either the old or the new value whole, never a mix. Chunk items never appear in enumerations or counts.
/// A bulk delete racing a write of the same key may leave that write's chunk items behind; they carry the value's
/// TTL and <see cref="ClearAsync"/> removes them.
/// </para>
/// <para>
/// <b>Keys</b> are limited by DynamoDB to 2048 bytes of UTF-8 for the whole partition key (store name included).
/// </para>
/// <para>
/// <b>Ownership.</b> A client passed to the constructor is not disposed by this storage; one it creates from
/// <see cref="DynamoDbCacheOptions.ServiceUrl"/> and <see cref="DynamoDbCacheOptions.Region"/> is.
/// </para>
/// </remarks>
public partial class DynamoDbCache : BaseCache
{
    private const int MaxReadAttempts = 3;
    private static readonly Dictionary<string, string> ChunkPointerNames = new(StringComparer.Ordinal)
    {
        ["#k"] = KeyAttribute,
        ["#n"] = CountAttribute,
        ["#w"] = WriteIdAttribute,
    };

    private static readonly Dictionary<string, string> ExpiresNames = new(StringComparer.Ordinal) { ["#x"] = ExpiresAttribute };

    private readonly DynamoDbTable _table;
    private readonly IDisposable? _ownedClient;
    private readonly string _headPrefix;
    private readonly string _chunkPrefix;

    /// <summary>Initializes a storage over a client the caller owns.</summary>
    /// <param name="client">The DynamoDB client; shared, never disposed by this storage.</param>
    /// <param name="storeName">The namespace of this storage's keys in the table (no <c>:</c> or <c>#</c>), for example <c>resp</c>.</param>
    /// <param name="options">The options; defaults when null. They are validated now; the client-creation options are ignored.</param>
    /// <param name="timeProvider">The clock used to honour delete-after times.</param>
    /// <param name="logger">The logger; none when null.</param>
    /// <exception cref="ArgumentException">An option or <paramref name="storeName"/> is invalid.</exception>
    public DynamoDbCache(IAmazonDynamoDB client, string storeName, DynamoDbCacheOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(new DynamoDbTable(client ?? throw new ArgumentNullException(nameof(client)), Validated(options), logger ?? NullLogger.Instance), storeName, ownedClient: null, timeProvider)
    {
    }

    /// <summary>Initializes a storage with a client of its own, created from <see cref="DynamoDbCacheOptions.ServiceUrl"/>, <see cref="DynamoDbCacheOptions.Region"/> and <see cref="DynamoDbCacheOptions.Credentials"/>.</summary>
    /// <param name="storeName">The namespace of this storage's keys in the table (no <c>:</c> or <c>#</c>), for example <c>resp</c>.</param>
    /// <param name="options">The options. They are validated now.</param>
    /// <param name="timeProvider">The clock used to honour delete-after times.</param>
    /// <param name="logger">The logger; none when null.</param>
    /// <exception cref="ArgumentException">An option or <paramref name="storeName"/> is invalid.</exception>
    public DynamoDbCache(string storeName, DynamoDbCacheOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(OwnedTable(options, logger), storeName, ownedClient: true, timeProvider)
    {
    }

    internal DynamoDbCache(DynamoDbTable table, string storeName, bool? ownedClient, TimeProvider? timeProvider)
        : base(timeProvider)
    {
        ArgumentException.ThrowIfNullOrEmpty(storeName);
        if (storeName.Contains(':', StringComparison.Ordinal) || storeName.Contains('#', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The store name '{storeName}' must not contain ':' or '#'.", nameof(storeName));
        }

        _table = table;
        _ownedClient = ownedClient == true ? table.Client : null;
        StoreName = storeName;
        _headPrefix = storeName + ":";
        _chunkPrefix = storeName + "#";
    }

    /// <inheritdoc />
    public override string Name => "dynamodb";

    /// <summary>Gets the namespace of this storage's keys in the table.</summary>
    public string StoreName { get; }

    /// <summary>Gets the name of the table.</summary>
    public string TableName => _table.Name;

    /// <inheritdoc />
    public override async ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var headKey = HeadKey(key);
        for (var attempt = 1; attempt <= MaxReadAttempts; attempt++)
        {
            var request = new GetItemRequest { TableName = _table.Name, Key = Key(headKey), ConsistentRead = _table.Options.ConsistentRead };
            var response = await _table.CallAsync((client, token) => client.GetItemAsync(request, token), cancellationToken).ConfigureAwait(false);
            if (response.Item is not { Count: > 0 } head || IsExpired(head))
            {
                return null;
            }

            var value = await AssembleAsync(head, cancellationToken).ConfigureAwait(false);
            if (value is not null)
            {
                return value;
            }

            // Its chunks are gone: the value was replaced or deleted meanwhile. The head now tells which.
            Log.TornRead(_table.Logger, key);
        }

        return null;
    }

    /// <inheritdoc />
    public override async ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var request = new GetItemRequest
        {
            TableName = _table.Name,
            Key = Key(HeadKey(key)),
            ConsistentRead = _table.Options.ConsistentRead,
            ProjectionExpression = "#k, #x",
            ExpressionAttributeNames = new(StringComparer.Ordinal) { ["#k"] = KeyAttribute, ["#x"] = ExpiresAttribute },
        };
        var response = await _table.CallAsync((client, token) => client.GetItemAsync(request, token), cancellationToken).ConfigureAwait(false);
        return response.Item is { Count: > 0 } head && !IsExpired(head);
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var headKey = HeadKey(key);
        var chunkSize = _table.Options.ChunkSize;
        var count = value.Length <= chunkSize ? 1 : (int)(((long)value.Length + chunkSize - 1) / chunkSize);
        List<string> chunkKeys = [];
        string? writeId = null;
        if (count > 1)
        {
            // Chunks first, under a fresh write id: the current head keeps pointing at the previous chunks until it is replaced.
            writeId = Guid.NewGuid().ToString("N");
            var writes = new List<WriteRequest>(count - 1);
            for (var index = 1; index < count; index++)
            {
                var chunkKey = ChunkKey(writeId, index);
                chunkKeys.Add(chunkKey);
                var item = Key(chunkKey);
                item[ValueAttribute] = Binary(value.Slice(index * chunkSize, Math.Min(chunkSize, value.Length - (index * chunkSize))));
                item[OwnerAttribute] = new AttributeValue { S = headKey };
                AddExpiry(item, deleteAfter);
                writes.Add(new WriteRequest { PutRequest = new PutRequest { Item = item } });
            }

            try
            {
                await _table.BatchWriteAsync(writes, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await DeleteQuietlyAsync(chunkKeys).ConfigureAwait(false);
                throw;
            }
        }

        var head = Key(headKey);
        head[ValueAttribute] = Binary(value[..Math.Min(chunkSize, value.Length)]);
        head[CountAttribute] = Number(count);
        head[SizeAttribute] = Number(value.Length);
        if (writeId is not null)
        {
            head[WriteIdAttribute] = new AttributeValue { S = writeId };
        }

        AddExpiry(head, deleteAfter);
        PutItemResponse put;
        try
        {
            // ALL_OLD tells atomically which chunks the replaced value had.
            var request = new PutItemRequest { TableName = _table.Name, Item = head, ReturnValues = ReturnValue.ALL_OLD };
            put = await _table.CallAsync((client, token) => client.PutItemAsync(request, token), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await DeleteQuietlyAsync(chunkKeys).ConfigureAwait(false);
            throw;
        }

        if (put.Attributes is { Count: > 0 } old)
        {
            await DeleteQuietlyAsync(ChunkKeysOf(old)).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var request = new DeleteItemRequest { TableName = _table.Name, Key = Key(HeadKey(key)), ReturnValues = ReturnValue.ALL_OLD };
        var response = await _table.CallAsync((client, token) => client.DeleteItemAsync(request, token), cancellationToken).ConfigureAwait(false);
        if (response.Attributes is not { Count: > 0 } old)
        {
            return false;
        }

        var chunks = ChunkKeysOf(old);
        if (chunks.Count > 0)
        {
            await _table.BatchWriteAsync(chunks.Select(DeleteRequestFor), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <inheritdoc />
    /// <remarks>Reads the heads (BatchGetItem, 100 keys a call) to learn which exist and which chunks they have, then deletes heads and chunks with BatchWriteItem, 25 a call.</remarks>
    public override async ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        await _table.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var batch in keys.Select(HeadKey).Distinct(StringComparer.Ordinal).Chunk(MaxBatchGet * 10))
        {
            var heads = await _table.BatchGetAsync(batch, "#k, #n, #w", ChunkPointerNames, MaxBatchGet, cancellationToken).ConfigureAwait(false);
            var deletes = new List<string>(heads.Count);
            foreach (var (headKey, head) in heads)
            {
                deletes.Add(headKey);
                deletes.AddRange(ChunkKeysOf(head));
            }

            await _table.BatchWriteAsync(deletes.Select(DeleteRequestFor), cancellationToken).ConfigureAwait(false);
            deleted += heads.Count;
        }

        return deleted;
    }

    /// <summary>Releases the client this storage created (never one passed in).</summary>
    /// <param name="disposing"><see langword="true"/> when called from <see cref="BaseCache.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _ownedClient?.Dispose();
        }

        base.Dispose(disposing);
    }

    internal static DynamoDbCacheOptions Validated(DynamoDbCacheOptions? options)
    {
        options ??= new DynamoDbCacheOptions();
        options.Validate();
        return options;
    }

    private static DynamoDbTable OwnedTable(DynamoDbCacheOptions options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new DynamoDbTable(DynamoDbTable.CreateClient(options), options, logger ?? NullLogger.Instance);
    }

    private static WriteRequest DeleteRequestFor(string key) => new() { DeleteRequest = new DeleteRequest { Key = Key(key) } };

    private static AttributeValue Binary(ReadOnlyMemory<byte> bytes)
        => new()
        {
            B = MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Array is not null
                ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(bytes.ToArray(), writable: false),
        };

    private string HeadKey(string key) => _headPrefix + key;

    private string ChunkKey(string writeId, int index) => _chunkPrefix + writeId + "#" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private List<string> ChunkKeysOf(Dictionary<string, AttributeValue> head)
    {
        var count = ReadNumber(head, CountAttribute) ?? 1;
        if (count <= 1 || !head.TryGetValue(WriteIdAttribute, out var writeId) || writeId.S is not { Length: > 0 } id)
        {
            return [];
        }

        var keys = new List<string>((int)count - 1);
        for (var index = 1; index < count; index++)
        {
            keys.Add(ChunkKey(id, index));
        }

        return keys;
    }

    private void AddExpiry(Dictionary<string, AttributeValue> item, DateTimeOffset? deleteAfter)
    {
        if (deleteAfter is { } at)
        {
            var milliseconds = at.ToUnixTimeMilliseconds();

            // Epoch seconds rounded up, so that DynamoDB never deletes an item before its time.
            item[_table.Options.TtlAttributeName] = Number((milliseconds + 999) / 1000);
            item[ExpiresAttribute] = Number(milliseconds);
        }
    }

    private bool IsExpired(Dictionary<string, AttributeValue> item)
        => ReadNumber(item, ExpiresAttribute) is { } milliseconds && IsPastDeleteAfter(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));

    /// <summary>Builds a value from its head item and (for a chunked value) its chunk items; null when a chunk is missing.</summary>
    private async Task<byte[]?> AssembleAsync(Dictionary<string, AttributeValue> head, CancellationToken cancellationToken)
    {
        var first = head.TryGetValue(ValueAttribute, out var v) ? v.B : null;
        var chunkKeys = ChunkKeysOf(head);
        if (chunkKeys.Count == 0)
        {
            return first is null ? [] : first.ToArray();
        }

        var size = ReadNumber(head, SizeAttribute) ?? -1;
        if (first is null || size < 0 || size > Array.MaxLength)
        {
            return null;
        }

        var chunks = await _table.BatchGetAsync(chunkKeys, projection: null, names: null, _table.ChunksPerBatchGet, cancellationToken).ConfigureAwait(false);
        var value = new byte[size];
        var offset = 0;
        if (!TryAppend(first, value, ref offset))
        {
            return null;
        }

        foreach (var chunkKey in chunkKeys)
        {
            if (!chunks.TryGetValue(chunkKey, out var chunk) || !chunk.TryGetValue(ValueAttribute, out var part) || part.B is null || !TryAppend(part.B, value, ref offset))
            {
                return null;
            }
        }

        return offset == value.Length ? value : null;
    }

    private static bool TryAppend(MemoryStream source, byte[] target, ref int offset)
    {
        var bytes = source.TryGetBuffer(out var buffer) ? buffer.AsSpan() : source.ToArray();
        if (bytes.Length > target.Length - offset)
        {
            return false;
        }

        bytes.CopyTo(target.AsSpan(offset));
        offset += bytes.Length;
        return true;
    }

    /// <summary>Deletes chunk items that nothing points at any more; a failure leaves them to their TTL or to <see cref="ClearAsync"/>.</summary>
    private async Task DeleteQuietlyAsync(List<string> keys)
    {
        if (keys.Count == 0)
        {
            return;
        }

        try
        {
            // Not the caller's token: the value itself is written (or failed); this is cleanup that should finish.
            await _table.BatchWriteAsync(keys.Select(DeleteRequestFor), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StaleChunksLeft(_table.Logger, ex, keys.Count, _table.Name);
        }
    }
}
