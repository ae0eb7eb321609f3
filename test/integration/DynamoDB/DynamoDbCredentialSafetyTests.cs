using System.Security.Cryptography;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using CachedHttp.DynamoDB;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Security;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>
/// The credential-safety proof on DynamoDB (dynalite): every item of the backend's table is scanned raw, every
/// attribute's name and value (strings, numbers, binaries, sets, maps and lists) searched.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class DynamoDbCredentialSafetyTests : OriginFixture
{
    private readonly System.Collections.Concurrent.ConcurrentBag<string> _tables = [];
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

    [Test]
    public async Task TwoTokens_DynamoDb_AreIsolatedAndNeverStored()
    {
        var (backend, client, table) = await NewBackendAsync(new CacheOptions());
        using (backend)
        {
            await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin, () => Raw(client, table));
        }
    }

    [Test]
    public async Task SecretQueryParameters_DynamoDb_AreRedactedAndNeverStored()
    {
        var (backend, client, table) = await NewBackendAsync(CredentialSafety.Options());
        using (backend)
        {
            await CredentialSafety.AssertSecretParametersNeverStoredAsync(backend, Origin, () => Raw(client, table));
        }
    }

    [Test]
    public async Task TwoTokens_DynamoDbEncrypted_EchoedSecretsAreNotStoredInClear()
    {
        var options = new CacheOptions();
        options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
        var (backend, client, table) = await NewBackendAsync(options);
        using (backend)
        {
            await CredentialSafety.AssertEchoedSecretsEncryptedAtRestAsync(backend, Origin, () => Raw(client, table));
        }
    }

    private async Task<(DynamoDbBackend Backend, IAmazonDynamoDB Client, string Table)> NewBackendAsync(CacheOptions options)
    {
        var client = await DynamoDbServer.ConnectOrIgnoreAsync();
        if (Interlocked.CompareExchange(ref _client, client, null) is not null)
        {
            client.Dispose();
        }

        var table = "cachedhttp-security-" + Guid.NewGuid().ToString("N")[..10];
        _tables.Add(table);

        // A small chunk size, so that the 2 KiB responses are split over chunk items too.
        return (new DynamoDbBackend(_client!, options, new DynamoDbCacheOptions { TableName = table, ChunkSize = 1024 }), _client!, table);
    }

    /// <summary>Every attribute of every item of the table, by raw Scan.</summary>
    private static async IAsyncEnumerable<byte[]> Raw(IAmazonDynamoDB client, string table)
    {
        Dictionary<string, AttributeValue>? start = null;
        var items = 0;
        do
        {
            var page = await client.ScanAsync(new ScanRequest { TableName = table, ExclusiveStartKey = start });
            foreach (var item in page.Items ?? [])
            {
                items++;
                foreach (var (name, value) in item)
                {
                    yield return Encoding.UTF8.GetBytes(name);
                    foreach (var bytes in Bytes(value))
                    {
                        yield return bytes;
                    }
                }
            }

            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
        Assert.That(items, Is.GreaterThan(0), "the backend's items were found in the table");
    }

    private static IEnumerable<byte[]> Bytes(AttributeValue value)
    {
        if (value.S is { } s)
        {
            yield return Encoding.UTF8.GetBytes(s);
        }

        if (value.N is { } n)
        {
            yield return Encoding.UTF8.GetBytes(n);
        }

        if (value.B is { } b)
        {
            yield return b.ToArray();
        }

        foreach (var text in (value.SS ?? []).Concat(value.NS ?? []))
        {
            yield return Encoding.UTF8.GetBytes(text);
        }

        foreach (var binary in value.BS ?? [])
        {
            yield return binary.ToArray();
        }

        foreach (var (name, inner) in value.M ?? [])
        {
            yield return Encoding.UTF8.GetBytes(name);
            foreach (var bytes in Bytes(inner))
            {
                yield return bytes;
            }
        }

        foreach (var inner in value.L ?? [])
        {
            foreach (var bytes in Bytes(inner))
            {
                yield return bytes;
            }
        }
    }
}
