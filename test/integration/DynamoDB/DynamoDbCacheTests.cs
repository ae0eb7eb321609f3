using System.Net;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using CachedHttp.DynamoDB;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>DynamoDB-specific behaviour: chunking, table setup, TTL attribute, paging, options, ownership.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbCacheTests
{
    private readonly List<string> _tables = [];
    private AmazonDynamoDBClient? _connected;

    private AmazonDynamoDBClient _client => _connected ?? throw new InvalidOperationException("not connected");

    [SetUp]
    public async Task Connect() => _connected = await DynamoDbServer.ConnectOrIgnoreAsync();

    [TearDown]
    public async Task DeleteTables()
    {
        if (_connected is null)
        {
            return; // the test was ignored: no server
        }

        foreach (var table in _tables)
        {
            await DynamoDbServer.DeleteTableQuietlyAsync(_client, table);
        }

        _tables.Clear();
        _connected.Dispose();
        _connected = null;
    }

    private string NewTable()
    {
        var table = "cachedhttp-t-" + Guid.NewGuid().ToString("N")[..10];
        _tables.Add(table);
        return table;
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Test]
    public async Task Write_1_5MB_IsChunked_RoundTrips_AndDeleteRemovesEveryChunk()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table });
        var value = RandomBytes(1_500_000, 7);

        await cache.WriteAsync("big", value);

        var raw = await DynamoDbServer.RawKeysAsync(_client, table);
        raw.Should().Contain("resp:big");
        raw.Count(k => k.StartsWith("resp#", StringComparison.Ordinal)).Should().Be(4, "1.5 MB in 350 KiB chunks = head + 4 chunk items");
        (await cache.ReadAsync("big")).Should().Equal(value);
        (await cache.CountAsync()).Should().Be(1, "chunk items are not entries");
        var keys = new List<string>();
        await foreach (var key in cache.GetKeysAsync())
        {
            keys.Add(key);
        }

        keys.Should().Equal("big");
        await foreach (var entry in cache.GetEntriesAsync())
        {
            entry.Value.Should().Equal(value);
        }

        (await cache.DeleteAsync("big")).Should().BeTrue();
        (await DynamoDbServer.RawKeysAsync(_client, table)).Should().BeEmpty();
        (await cache.ReadAsync("big")).Should().BeNull();
    }

    [Test]
    public async Task Write_ReplacingChunkedValue_DeletesTheOldChunks()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table });
        await cache.WriteAsync("k", RandomBytes(1_500_000, 1));
        var second = RandomBytes(800_000, 2);

        await cache.WriteAsync("k", second);

        (await cache.ReadAsync("k")).Should().Equal(second);
        (await DynamoDbServer.RawKeysAsync(_client, table)).Count(k => k.StartsWith("resp#", StringComparison.Ordinal)).Should().Be(2);

        await cache.WriteAsync("k", Encoding.UTF8.GetBytes("small"));
        (await DynamoDbServer.RawKeysAsync(_client, table)).Should().Equal("resp:k");
        (await cache.ReadAsync("k")).Should().Equal(Encoding.UTF8.GetBytes("small"));
    }

    [Test]
    public async Task DeleteManyAndClear_ChunkedValues_LeaveNoChunkItems()
    {
        var table = NewTable();
        using var responses = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, ChunkSize = 4096 });
        using var redirects = new DynamoDbCache(_client, "redir", new DynamoDbCacheOptions { TableName = table, ChunkSize = 4096 });
        for (var i = 0; i < 10; i++)
        {
            await responses.WriteAsync($"k{i}", RandomBytes(20_000, i));
        }

        await redirects.WriteAsync("alias", RandomBytes(10_000, 99));

        (await responses.DeleteManyAsync(["k0", "k1", "k2", "k1", "missing"])).Should().Be(3);
        (await responses.CountAsync()).Should().Be(7);
        (await DynamoDbServer.RawKeysAsync(_client, table)).Count(k => k.StartsWith("resp#", StringComparison.Ordinal)).Should().Be(7 * 4);

        await responses.ClearAsync();
        var left = await DynamoDbServer.RawKeysAsync(_client, table);
        left.Should().OnlyContain(k => k.StartsWith("redir", StringComparison.Ordinal), "clear removes this store's heads and chunks, and nothing of the other store");
        (await redirects.ReadAsync("alias")).Should().Equal(RandomBytes(10_000, 99));
    }

    [Test]
    public async Task Write_ConcurrentReplacesOfAChunkedValue_ReadersNeverSeeATornValue()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, ChunkSize = 2048 });
        var versions = Enumerable.Range(0, 4).Select(i => Enumerable.Repeat((byte)(i + 1), 20_000).ToArray()).ToArray();
        await cache.WriteAsync("k", versions[0]);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var writer = Task.Run(async () =>
        {
            for (var i = 1; !stop.IsCancellationRequested; i++)
            {
                await cache.WriteAsync("k", versions[i % versions.Length]);
            }
        });
        var reads = 0;
        while (!writer.IsCompleted)
        {
            var read = await cache.ReadAsync("k");
            if (read is not null)
            {
                reads++;
                read.Should().HaveCount(20_000);
                read.Distinct().Should().ContainSingle("a value is one version whole, never a mix of two");
            }
        }

        await writer;
        reads.Should().BePositive();
    }

    [Test]
    public async Task FirstUse_TableMissing_CreatesItOnDemand_WithKeySchemaAndBilling()
    {
        var table = NewTable();
        var missing = async () => await _client.DescribeTableAsync(new DescribeTableRequest { TableName = table });
        await missing.Should().ThrowAsync<ResourceNotFoundException>();

        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table });
        await cache.WriteAsync("k", new byte[] { 1, 2, 3 });

        var described = (await _client.DescribeTableAsync(new DescribeTableRequest { TableName = table })).Table;
        described.TableStatus.Should().Be(TableStatus.ACTIVE);
        described.KeySchema.Should().ContainSingle().Which.AttributeName.Should().Be("k");
        described.AttributeDefinitions.Should().ContainSingle().Which.AttributeType.Should().Be(ScalarAttributeType.S);
        described.BillingModeSummary?.BillingMode.Should().Be(BillingMode.PAY_PER_REQUEST);
        (await cache.ReadAsync("k")).Should().Equal(1, 2, 3);
    }

    [Test]
    public async Task FirstUse_ProvisionedCapacity_CreatesProvisionedTable()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, ReadCapacity = 3, WriteCapacity = 4 });
        await cache.WriteAsync("k", new byte[] { 1 });

        var described = (await _client.DescribeTableAsync(new DescribeTableRequest { TableName = table })).Table;
        described.ProvisionedThroughput.ReadCapacityUnits.Should().Be(3);
        described.ProvisionedThroughput.WriteCapacityUnits.Should().Be(4);
    }

    [Test]
    public async Task FirstUse_CreateIfNotExistsOff_DoesNotCreateTheTable()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, CreateIfNotExists = false });
        var write = async () => await cache.WriteAsync("k", new byte[] { 1 });
        await write.Should().ThrowAsync<ResourceNotFoundException>();
    }

    [Test]
    public async Task TableDeletedWhileInUse_IsCreatedAgainByTheNextOperation()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table });
        await cache.WriteAsync("k", new byte[] { 1 });
        await _client.DeleteTableAsync(new DeleteTableRequest { TableName = table });
        await WaitUntilGoneAsync(table);

        var read = async () => await cache.ReadAsync("k");
        await read.Should().ThrowAsync<ResourceNotFoundException>("this operation finds the table gone");
        await cache.WriteAsync("k", new byte[] { 2 });
        (await cache.ReadAsync("k")).Should().Equal(2);
    }

    private async Task WaitUntilGoneAsync(string table)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                await _client.DescribeTableAsync(new DescribeTableRequest { TableName = table });
                await Task.Delay(100);
            }
            catch (ResourceNotFoundException)
            {
                return;
            }
        }
    }

    [Test]
    public async Task FirstUse_UpdateTimeToLiveUnsupported_IsLoggedAndIgnored()
    {
        // dynalite implements DescribeTimeToLive (always DISABLED) but not UpdateTimeToLive.
        var table = NewTable();
        var logger = new ListLogger();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table }, logger: logger);

        await cache.WriteAsync("k", new byte[] { 1 }, TimeProvider.System.GetUtcNow().AddHours(1));

        (await cache.ReadAsync("k")).Should().Equal(1);
        var ttl = await _client.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = table });
        if (ttl.TimeToLiveDescription?.TimeToLiveStatus == TimeToLiveStatus.DISABLED)
        {
            logger.EventIds.Should().Contain(3001, "UnknownOperationException from the emulator is logged as 'TTL unsupported'");
        }
        else
        {
            ttl.TimeToLiveDescription!.AttributeName.Should().Be("delete_after");
        }
    }

    [Test]
    public async Task Write_WithDeleteAfter_WritesTtlAttributeAsEpochSeconds()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table }, new FakeTimeProvider(new DateTimeOffset(2029, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var deleteAfter = new DateTimeOffset(2030, 1, 1, 0, 0, 0, 250, TimeSpan.Zero);

        await cache.WriteAsync("k", new byte[] { 1 }, deleteAfter);
        await cache.WriteAsync("forever", new byte[] { 1 });

        var item = (await _client.GetItemAsync(table, DynamoKey("resp:k"))).Item;
        item["delete_after"].N.Should().Be("1893456001", "epoch seconds, rounded up so DynamoDB never deletes early");
        var forever = (await _client.GetItemAsync(table, DynamoKey("resp:forever"))).Item;
        forever.Should().NotContainKey("delete_after");
    }

    [Test]
    public async Task Write_CustomTtlAttributeName_IsUsedOnHeadsAndChunks()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, TtlAttributeName = "expires_at", ChunkSize = 1024 });
        var deleteAfter = TimeProvider.System.GetUtcNow().AddHours(1);

        await cache.WriteAsync("k", RandomBytes(3000, 3), deleteAfter);

        var seconds = ((deleteAfter.ToUnixTimeMilliseconds() + 999) / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var key in await DynamoDbServer.RawKeysAsync(_client, table))
        {
            var item = (await _client.GetItemAsync(table, DynamoKey(key))).Item;
            item["expires_at"].N.Should().Be(seconds, key);
        }
    }

    [Test]
    public async Task Read_PastDeleteAfterByTheStoragesClock_IsHidden_AndDeleteExpiredRemovesIt()
    {
        var table = NewTable();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, ChunkSize = 1024 }, time);
        await cache.WriteAsync("soon", RandomBytes(5000, 5), time.GetUtcNow().AddSeconds(10));
        await cache.WriteAsync("later", new byte[] { 1 }, time.GetUtcNow().AddSeconds(20));

        time.Advance(TimeSpan.FromSeconds(9.999));
        (await cache.ReadAsync("soon")).Should().NotBeNull();
        time.Advance(TimeSpan.FromMilliseconds(1));
        (await cache.ReadAsync("soon")).Should().BeNull("DynamoDB deletes late; reads compare with the clock to the millisecond");
        (await cache.ContainsAsync("soon")).Should().BeFalse();
        (await cache.CountAsync()).Should().Be(1);

        (await cache.DeleteExpiredAsync()).Should().Be(1);
        (await DynamoDbServer.RawKeysAsync(_client, table)).Should().Equal("resp:later");
    }

    [Test]
    public async Task CountAndKeys_1200Keys_PageThroughScans()
    {
        var table = NewTable();
        var (client, recorder) = RecordingDynamoDb.Wrap(_client);
        using var cache = new DynamoDbCache(client, "resp", new DynamoDbCacheOptions { TableName = table, ScanPageSize = 100 });
        using var other = new DynamoDbCache(_client, "redir", new DynamoDbCacheOptions { TableName = table });
        await Parallel.ForEachAsync(Enumerable.Range(0, 1200), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) => await cache.WriteAsync($"key-{i}", new byte[] { (byte)i }, cancellationToken: ct));
        await other.WriteAsync("not-mine", new byte[] { 1 });

        var scansBefore = recorder.Count(nameof(IAmazonDynamoDB.ScanAsync));
        (await cache.CountAsync()).Should().Be(1200);
        var countScans = recorder.Count(nameof(IAmazonDynamoDB.ScanAsync)) - scansBefore;
        countScans.Should().BeGreaterThanOrEqualTo(12, "1,201 items in pages of 100");

        var keys = new HashSet<string>();
        await foreach (var key in cache.GetKeysAsync())
        {
            keys.Add(key).Should().BeTrue("each key once");
        }

        keys.Should().HaveCount(1200).And.Contain("key-0").And.Contain("key-1199").And.NotContain("not-mine");
    }

    [Test]
    public async Task Value_Empty_AndExactlyOneChunk_RoundTrip()
    {
        var table = NewTable();
        using var cache = new DynamoDbCache(_client, "resp", new DynamoDbCacheOptions { TableName = table, ChunkSize = 1024 });
        await cache.WriteAsync("empty", ReadOnlyMemory<byte>.Empty);
        await cache.WriteAsync("one", RandomBytes(1024, 1));
        await cache.WriteAsync("two", RandomBytes(1025, 2));
        var slice = RandomBytes(5000, 3);
        await cache.WriteAsync("slice", slice.AsMemory(100, 3000));

        (await cache.ReadAsync("empty")).Should().BeEmpty();
        (await cache.ReadAsync("one")).Should().Equal(RandomBytes(1024, 1));
        (await cache.ReadAsync("two")).Should().Equal(RandomBytes(1025, 2));
        (await cache.ReadAsync("slice")).Should().Equal(slice.AsSpan(100, 3000).ToArray());
        (await DynamoDbServer.RawKeysAsync(_client, table)).Count(k => k.StartsWith("resp#", StringComparison.Ordinal)).Should().Be(1 + 2);
    }

    [Test]
    public async Task Dispose_PassedClient_IsNotDisposed_AndStaysUsable()
    {
        var table = NewTable();
        var (client, recorder) = RecordingDynamoDb.Wrap(_client);
        var backend = new DynamoDbBackend(client, dynamoOptions: new DynamoDbCacheOptions { TableName = table });
        await backend.Responses.WriteAsync("k", new byte[] { 1 });
        await backend.Redirects.WriteAsync("k", new byte[] { 2 });
        backend.Responses.Should().BeOfType<DynamoDbCache>().Which.StoreName.Should().Be("resp");
        backend.Redirects.Should().BeOfType<DynamoDbCache>().Which.StoreName.Should().Be("redir");
        (await DynamoDbServer.RawKeysAsync(_client, table)).Should().BeEquivalentTo("resp:k", "redir:k");
        recorder.Count(nameof(IAmazonDynamoDB.CreateTableAsync)).Should().Be(1, "the two stores share one table setup");

        await backend.DisposeAsync();
        using (var cache = new DynamoDbCache(client, "resp", new DynamoDbCacheOptions { TableName = table }))
        {
            (await cache.ReadAsync("k")).Should().Equal(1);
        }

        recorder.Count(nameof(IDisposable.Dispose)).Should().Be(0);
    }

    [Test]
    public async Task Dispose_OwnedClient_IsDisposed()
    {
        var table = NewTable();
        var backend = new DynamoDbBackend(new DynamoDbCacheOptions { TableName = table, ServiceUrl = DynamoDbServer.Url, Region = "us-east-1", Credentials = DynamoDbServer.Credentials });
        await backend.Responses.WriteAsync("k", new byte[] { 1 });
        (await backend.Responses.ReadAsync("k")).Should().Equal(1);
        var responses = backend.Responses;

        backend.Dispose();

        var afterDispose = async () => await responses.ReadAsync("k");
        await afterDispose.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Test]
    public async Task Backend_EndToEnd_SecondRequestIsServedFromDynamoDb()
    {
        var table = NewTable();
        var calls = 0;
        using var backend = new DynamoDbBackend(_client, new CacheOptions(), new DynamoDbCacheOptions { TableName = table });
        using var http = new HttpClient(new CachingHandler(backend, new StubHandler(() => Interlocked.Increment(ref calls))));

        (await http.GetStringAsync("http://origin.test/a")).Should().Be("hello");
        using var second = await http.GetAsync("http://origin.test/a");

        second.IsFromCache().Should().BeTrue();
        (await second.Content.ReadAsStringAsync()).Should().Be("hello");
        calls.Should().Be(1);
        (await DynamoDbServer.RawKeysAsync(_client, table)).Should().ContainSingle().Which.Should().StartWith("resp:");
    }

    private static Dictionary<string, AttributeValue> DynamoKey(string key) => new() { ["k"] = new AttributeValue { S = key } };
}

/// <summary>Collects the event ids logged.</summary>
internal sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
{
    public System.Collections.Concurrent.ConcurrentQueue<int> EventIds { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => EventIds.Enqueue(eventId.Id);
}

/// <summary>An origin in memory: answers 200 "hello" (cacheable), counting calls.</summary>
internal sealed class StubHandler(Action onCall) : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        onCall();
        return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("hello"), RequestMessage = request });
    }
}
