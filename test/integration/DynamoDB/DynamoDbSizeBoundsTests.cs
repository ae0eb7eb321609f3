using Amazon.DynamoDBv2;
using CachedHttp.DynamoDB;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.SizeBounds;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>DynamoDB expires items by its TTL attribute: MaxEntries and MaxBytes are refused, MaxEntryBytes honoured.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbSizeBoundsTests
{
    private readonly List<string> _tables = [];
    private TestOrigin _origin = null!;
    private AmazonDynamoDBClient? _client;

    [OneTimeSetUp]
    public async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public async Task StopOrigin() => await _origin.DisposeAsync();

    [SetUp]
    public async Task Connect() => _client = await DynamoDbServer.ConnectOrIgnoreAsync();

    [TearDown]
    public async Task DeleteTables()
    {
        if (_client is null)
        {
            return;
        }

        foreach (var table in _tables)
        {
            await DynamoDbServer.DeleteTableQuietlyAsync(_client, table);
        }

        _tables.Clear();
        _client.Dispose();
        _client = null;
    }

    private DynamoDbCacheOptions NewTable()
    {
        var table = "cachedhttp-t-" + Guid.NewGuid().ToString("N")[..10];
        _tables.Add(table);
        return new DynamoDbCacheOptions { TableName = table };
    }

    [Test]
    public void Constructor_MaxEntriesOrMaxBytes_ThrowsNamingTheOption()
    {
        var table = NewTable();

        ServerBackendBounds.RejectsMaxEntriesAndMaxBytes(options => new DynamoDbBackend(_client!, options, table), "dynamodb");
    }

    [Test]
    public void Constructor_OwnedClientAndMaxBytes_ThrowsBeforeCreatingIt()
    {
        var options = NewTable();
        options.ServiceUrl = DynamoDbServer.Url;
        options.Region = "us-east-1";
        options.Credentials = DynamoDbServer.Credentials;

        var act = () => new DynamoDbBackend(options, new CacheOptions { MaxBytes = 1_000_000 });

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(CacheOptions.MaxBytes));
    }

    [Test]
    public async Task MaxEntryBytes_LargeEntryServedNotStored_SmallOneStored()
    {
        var table = NewTable();

        await ServerBackendBounds.HonoursMaxEntryBytesAsync(_origin, options => new DynamoDbBackend(_client!, options, table));
    }
}
