using Amazon.DynamoDBv2;
using CachedHttp.DynamoDB;
using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>The inspection contract over DynamoDB (dynalite), one table per test; small chunks so that large values span items.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbInspectionContractTests : CacheInspectionContractTests
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
        return new DynamoDbBackend(_client, options, new DynamoDbCacheOptions { TableName = table, ChunkSize = 64 * 1024 });
    }
}
