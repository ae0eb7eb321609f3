using System.Globalization;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;

namespace CachedHttp.DynamoDB.Internal;

/// <summary>
/// The table shared by the stores of one backend: its client, its one-time setup (create, wait until ACTIVE, enable
/// TTL) and the request helpers every store uses (timeouts, batched reads and writes with retries, paged scans).
/// </summary>
internal sealed class DynamoDbTable
{
    /// <summary>The partition key attribute: <c>{store}:{key}</c> for a head item, <c>{store}#{writeId}#{index}</c> for a chunk item.</summary>
    public const string KeyAttribute = "k";

    /// <summary>The value (whole, or its first chunk in a head item, or one chunk in a chunk item).</summary>
    public const string ValueAttribute = "v";

    /// <summary>The number of chunks of a head item, the head included (1 when unchunked).</summary>
    public const string CountAttribute = "n";

    /// <summary>The total size of the value in bytes.</summary>
    public const string SizeAttribute = "size";

    /// <summary>The write id of a chunked value; its chunk items' keys contain it.</summary>
    public const string WriteIdAttribute = "w";

    /// <summary>The exact delete-after time in Unix milliseconds, which reads compare with the clock.</summary>
    public const string ExpiresAttribute = "exp";

    /// <summary>On a chunk item, the key of the head it belongs to (for diagnosis only).</summary>
    public const string OwnerAttribute = "of";

    /// <summary>The largest number of requests in one BatchWriteItem call.</summary>
    public const int MaxBatchWrite = 25;

    /// <summary>The largest number of keys in one BatchGetItem call.</summary>
    public const int MaxBatchGet = 100;

    private const int MaxAttempts = 10;
    private const int MaxResponseBytes = 16 * 1024 * 1024;
    private static readonly TimeSpan MaxTableWait = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private Task? _ready;

    public DynamoDbTable(IAmazonDynamoDB client, DynamoDbCacheOptions options, ILogger logger)
    {
        Client = client;
        Options = options;
        Logger = logger;
    }

    public IAmazonDynamoDB Client { get; }

    public DynamoDbCacheOptions Options { get; }

    public ILogger Logger { get; }

    public string Name => Options.TableName;

    /// <summary>How many chunk items one BatchGetItem call asks for, so that its response stays under 16 MB.</summary>
    public int ChunksPerBatchGet => Math.Clamp(MaxResponseBytes / (Options.ChunkSize + 4096), 1, MaxBatchGet);

    /// <summary>Creates a client from <see cref="DynamoDbCacheOptions.ServiceUrl"/>, <see cref="DynamoDbCacheOptions.Region"/> and <see cref="DynamoDbCacheOptions.Credentials"/>.</summary>
    public static AmazonDynamoDBClient CreateClient(DynamoDbCacheOptions options)
    {
        var config = new AmazonDynamoDBConfig();
        if (options.ServiceUrl is not null)
        {
            config.ServiceURL = options.ServiceUrl;
            if (options.Region is not null)
            {
                config.AuthenticationRegion = options.Region;
            }
        }
        else if (options.Region is not null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        if (options.OperationTimeout != Timeout.InfiniteTimeSpan)
        {
            config.Timeout = options.OperationTimeout;
        }

        return options.Credentials is null ? new AmazonDynamoDBClient(config) : new AmazonDynamoDBClient(options.Credentials, config);
    }

    public static Dictionary<string, AttributeValue> Key(string key) => new(StringComparer.Ordinal) { [KeyAttribute] = new AttributeValue { S = key } };

    public static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    public static long? ReadNumber(Dictionary<string, AttributeValue> item, string name)
        => item.TryGetValue(name, out var value) && value.N is { } text && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    /// <summary>Makes sure the table exists and is ACTIVE (once; a failed attempt is retried by the next caller).</summary>
    public Task EnsureReadyAsync(CancellationToken cancellationToken)
    {
        var ready = _ready;
        if (ready is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }

        lock (_gate)
        {
            if (_ready is null || _ready.IsFaulted || _ready.IsCanceled)
            {
                // Not tied to one caller's token: other callers may be waiting on the same setup.
                _ready = Task.Run(InitializeAsync, CancellationToken.None);
            }

            ready = _ready;
        }

        return ready.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Sends one request of a store with the operation timeout; a timeout surfaces as <see cref="TimeoutException"/>.
    /// A missing table (deleted, or an emulator restarted) makes the next request set the table up again.
    /// </summary>
    public async Task<T> CallAsync<T>(Func<IAmazonDynamoDB, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await SendAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceNotFoundException) when (Options.CreateIfNotExists)
        {
            lock (_gate)
            {
                if (_ready is { IsCompletedSuccessfully: true })
                {
                    _ready = null;
                }
            }

            throw;
        }
    }

    private async Task<T> SendAsync<T>(Func<IAmazonDynamoDB, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (Options.OperationTimeout != Timeout.InfiniteTimeSpan)
        {
            // System clock on purpose: this bounds network I/O, not cache expiry.
            timeout.CancelAfter(Options.OperationTimeout);
        }

        try
        {
            return await call(Client, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"A DynamoDB request to table '{Name}' did not complete within {Options.OperationTimeout} (DynamoDbCacheOptions.OperationTimeout).", ex);
        }
    }

    /// <summary>Writes and deletes items in batches of 25, retrying unprocessed items with exponential backoff.</summary>
    public async Task BatchWriteAsync(IEnumerable<WriteRequest> requests, CancellationToken cancellationToken)
    {
        foreach (var batch in requests.Chunk(MaxBatchWrite))
        {
            var pending = new Dictionary<string, List<WriteRequest>>(StringComparer.Ordinal) { [Name] = [.. batch] };
            for (var attempt = 1; ; attempt++)
            {
                var request = new BatchWriteItemRequest { RequestItems = pending };
                var response = await CallAsync((client, token) => client.BatchWriteItemAsync(request, token), cancellationToken).ConfigureAwait(false);
                if (response.UnprocessedItems is not { Count: > 0 } unprocessed || unprocessed.Values.All(list => list is not { Count: > 0 }))
                {
                    break;
                }

                if (attempt == MaxAttempts)
                {
                    throw new InvalidOperationException($"DynamoDB left {unprocessed.Values.Sum(list => list?.Count ?? 0)} items of a batch write to table '{Name}' unprocessed after {MaxAttempts} attempts (throttled?).");
                }

                pending = unprocessed;
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads items by key in batches, retrying unprocessed keys; missing items are absent from the result.</summary>
    /// <param name="keys">The keys (distinct).</param>
    /// <param name="projection">The attributes to read (with <paramref name="names"/>), or null for all.</param>
    /// <param name="names">The expression attribute names of <paramref name="projection"/>.</param>
    /// <param name="perRequest">How many keys one request asks for.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    public async Task<Dictionary<string, Dictionary<string, AttributeValue>>> BatchGetAsync(
        IReadOnlyCollection<string> keys, string? projection, Dictionary<string, string>? names, int perRequest, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, Dictionary<string, AttributeValue>>(keys.Count, StringComparer.Ordinal);
        foreach (var batch in keys.Chunk(perRequest))
        {
            var pending = new Dictionary<string, KeysAndAttributes>(StringComparer.Ordinal)
            {
                [Name] = new KeysAndAttributes
                {
                    Keys = [.. batch.Select(Key)],
                    ConsistentRead = Options.ConsistentRead,
                    ProjectionExpression = projection,
                    ExpressionAttributeNames = names,
                },
            };

            for (var attempt = 1; ; attempt++)
            {
                var request = new BatchGetItemRequest { RequestItems = pending };
                var response = await CallAsync((client, token) => client.BatchGetItemAsync(request, token), cancellationToken).ConfigureAwait(false);
                var received = 0;
                if (response.Responses is { } responses && responses.TryGetValue(Name, out var items) && items is not null)
                {
                    foreach (var item in items)
                    {
                        if (item.TryGetValue(KeyAttribute, out var key) && key.S is { } text)
                        {
                            found[text] = item;
                            received++;
                        }
                    }
                }

                if (response.UnprocessedKeys is not { Count: > 0 } unprocessed || unprocessed.Values.All(value => value?.Keys is not { Count: > 0 }))
                {
                    break;
                }

                if (attempt == MaxAttempts)
                {
                    throw new InvalidOperationException($"DynamoDB left keys of a batch read from table '{Name}' unprocessed after {MaxAttempts} attempts (throttled?).");
                }

                pending = unprocessed;
                if (received == 0)
                {
                    // Nothing came back: throttled rather than cut at the 16 MB response limit.
                    await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                }
            }
        }

        return found;
    }

    /// <summary>Scans the table page by page (never more than one page in memory), each page with its own timeout.</summary>
    public async IAsyncEnumerable<ScanResponse> ScanAsync(
        string filter,
        Dictionary<string, string> names,
        Dictionary<string, AttributeValue> values,
        string? projection,
        bool countOnly,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var request = new ScanRequest
            {
                TableName = Name,
                FilterExpression = filter,
                ExpressionAttributeNames = names,
                ExpressionAttributeValues = values,
                ProjectionExpression = projection,
                ExclusiveStartKey = start,
                ConsistentRead = Options.ConsistentRead,
            };
            if (countOnly)
            {
                request.Select = Select.COUNT;
            }

            if (Options.ScanPageSize is { } pageSize)
            {
                request.Limit = pageSize;
            }

            var response = await CallAsync((client, token) => client.ScanAsync(request, token), cancellationToken).ConfigureAwait(false);
            yield return response;
            start = response.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
    }

    private static TimeSpan Backoff(int attempt)
    {
        var milliseconds = Math.Min(50 * (1 << Math.Min(attempt - 1, 10)), 3_000);
        return TimeSpan.FromMilliseconds(milliseconds / 2 + Random.Shared.Next(milliseconds / 2 + 1));
    }

    private async Task InitializeAsync()
    {
        if (!Options.CreateIfNotExists)
        {
            return;
        }

        TableStatus? status;
        try
        {
            var described = await SendAsync((client, token) => client.DescribeTableAsync(new DescribeTableRequest { TableName = Name }, token), CancellationToken.None).ConfigureAwait(false);
            status = described.Table?.TableStatus;
        }
        catch (ResourceNotFoundException)
        {
            status = await CreateTableAsync().ConfigureAwait(false);
        }

        var waited = TimeSpan.Zero;
        var delay = TimeSpan.FromMilliseconds(100);
        while (status != TableStatus.ACTIVE)
        {
            if (waited >= MaxTableWait)
            {
                throw new TimeoutException($"DynamoDB table '{Name}' did not become ACTIVE within {MaxTableWait} (status {status}).");
            }

            await Task.Delay(delay).ConfigureAwait(false);
            waited += delay;
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2_000));
            var described = await SendAsync((client, token) => client.DescribeTableAsync(new DescribeTableRequest { TableName = Name }, token), CancellationToken.None).ConfigureAwait(false);
            status = described.Table?.TableStatus;
        }

        await EnableTimeToLiveAsync().ConfigureAwait(false);
    }

    private async Task<TableStatus?> CreateTableAsync()
    {
        var request = new CreateTableRequest
        {
            TableName = Name,
            KeySchema = [new KeySchemaElement(KeyAttribute, KeyType.HASH)],
            AttributeDefinitions = [new AttributeDefinition(KeyAttribute, ScalarAttributeType.S)],
        };
        if (Options.ReadCapacity is { } read && Options.WriteCapacity is { } write)
        {
            request.BillingMode = BillingMode.PROVISIONED;
            request.ProvisionedThroughput = new ProvisionedThroughput(read, write);
        }
        else
        {
            request.BillingMode = BillingMode.PAY_PER_REQUEST;
        }

        try
        {
            var created = await SendAsync((client, token) => client.CreateTableAsync(request, token), CancellationToken.None).ConfigureAwait(false);
            Log.TableCreated(Logger, Name);
            return created.TableDescription?.TableStatus;
        }
        catch (ResourceInUseException)
        {
            // Another process (or the other store of this backend) is creating it: wait for ACTIVE like it does.
            return null;
        }
    }

    private async Task EnableTimeToLiveAsync()
    {
        try
        {
            var described = await SendAsync((client, token) => client.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = Name }, token), CancellationToken.None).ConfigureAwait(false);
            var current = described.TimeToLiveDescription;
            if (current?.TimeToLiveStatus == TimeToLiveStatus.ENABLED || current?.TimeToLiveStatus == TimeToLiveStatus.ENABLING)
            {
                if (!string.Equals(current.AttributeName, Options.TtlAttributeName, StringComparison.Ordinal))
                {
                    Log.TimeToLiveOtherAttribute(Logger, Name, current.AttributeName, Options.TtlAttributeName);
                }

                return;
            }

            var request = new UpdateTimeToLiveRequest
            {
                TableName = Name,
                TimeToLiveSpecification = new TimeToLiveSpecification { AttributeName = Options.TtlAttributeName, Enabled = true },
            };
            await SendAsync((client, token) => client.UpdateTimeToLiveAsync(request, token), CancellationToken.None).ConfigureAwait(false);
            Log.TimeToLiveEnabled(Logger, Options.TtlAttributeName, Name);
        }
        catch (AmazonServiceException ex) when (ex.ErrorCode is "UnknownOperationException")
        {
            // dynalite has no UpdateTimeToLive: reads still hide expired items, DeleteExpiredAsync removes them.
            Log.TimeToLiveUnsupported(Logger, Name);
        }
        catch (AmazonServiceException ex)
        {
            // Missing permission, or TTL being changed by someone else: the cache works without native expiry.
            Log.TimeToLiveFailed(Logger, ex, Name);
        }
    }
}
