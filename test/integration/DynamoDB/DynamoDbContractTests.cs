using Amazon.DynamoDBv2;
using CachedHttp.DynamoDB;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>The storage contract against dynalite: one table per fixture, one store name (key namespace) per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbStorageContractTests : StorageContractTests
{
    private readonly string _table = "cachedhttp-contract-" + Guid.NewGuid().ToString("N")[..8];
    private AmazonDynamoDBClient? _client;

    /// <summary>Real time: the contract checks expiry with the system clock, as DynamoDB's TTL would.</summary>
    protected override bool ExpiresInRealTime => true;

    [OneTimeTearDown]
    public async Task DeleteTable()
    {
        if (_client is not null)
        {
            await DynamoDbServer.DeleteTableQuietlyAsync(_client, _table);
            _client.Dispose();
        }
    }

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
    {
        _client ??= await DynamoDbServer.ConnectOrIgnoreAsync();
        return new DynamoDbCache(_client, name, new DynamoDbCacheOptions { TableName = _table }, timeProvider);
    }
}

/// <summary>The same contract with a tiny chunk size, so that every value over 1 KiB is chunked, and a fake clock.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbChunkedStorageContractTests : StorageContractTests
{
    private readonly string _table = "cachedhttp-chunked-" + Guid.NewGuid().ToString("N")[..8];
    private AmazonDynamoDBClient? _client;

    [OneTimeTearDown]
    public async Task DeleteTable()
    {
        if (_client is not null)
        {
            await DynamoDbServer.DeleteTableQuietlyAsync(_client, _table);
            _client.Dispose();
        }
    }

    protected override async ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name)
    {
        _client ??= await DynamoDbServer.ConnectOrIgnoreAsync();
        return new DynamoDbCache(_client, name, new DynamoDbCacheOptions { TableName = _table, ChunkSize = 1024, ScanPageSize = 50 }, timeProvider);
    }
}

/// <summary>The end-to-end backend contract over a real origin, one table per test.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbBackendContractTests : CacheBackendContractTests
{
    private readonly List<string> _tables = [];
    private AmazonDynamoDBClient? _client;

    [OneTimeTearDown]
    public async Task DeleteTables()
    {
        if (_client is not null)
        {
            foreach (var table in _tables)
            {
                await DynamoDbServer.DeleteTableQuietlyAsync(_client, table);
            }

            _client.Dispose();
        }
    }

    protected override async ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
    {
        _client ??= await DynamoDbServer.ConnectOrIgnoreAsync();
        var table = "cachedhttp-" + name;
        _tables.Add(table);
        return new DynamoDbBackend(_client, options, new DynamoDbCacheOptions { TableName = table });
    }
}
