using System.Collections.Concurrent;
using Amazon.DynamoDBv2;
using CachedHttp.DynamoDB;
using CachedHttp.Redis;
using CachedHttp.Sqlite;
using CachedHttp.Tests.Integration.DynamoDB;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Redis;
using CachedHttp.Tests.Integration.Sqlite;

namespace CachedHttp.Tests.Integration.Transfer;

/// <summary>
/// A cache filled from a real origin, exported from one real backend and imported into another: afterwards the target
/// serves every URL (redirect hops and Vary variants included) without a request to the origin.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class TransferAcrossBackendsTests : OriginFixture
{
    private readonly TempFolder _folder = new("transfer");
    private readonly ConcurrentBag<string> _redisPrefixes = [];
    private readonly ConcurrentBag<string> _tables = [];
    private readonly SemaphoreSlim _dynamoLock = new(1, 1);
    private AmazonDynamoDBClient? _dynamo;

    public enum Kind
    {
        Memory,
        Sqlite,
        File,
        Redis,
        DynamoDB,
    }

    [OneTimeTearDown]
    public async Task CleanUp()
    {
        foreach (var prefix in _redisPrefixes)
        {
            await RedisTestServers.DeleteKeysAsync(RedisTestServers.SingleConfiguration, prefix, 0);
        }

        if (_dynamo is not null)
        {
            foreach (var table in _tables)
            {
                await DynamoDbServer.DeleteTableQuietlyAsync(_dynamo, table);
            }

            _dynamo.Dispose();
        }

        _folder.Dispose();
        _dynamoLock.Dispose();
    }

    [TestCase(Kind.Memory, Kind.Sqlite)]
    [TestCase(Kind.Sqlite, Kind.File)]
    [TestCase(Kind.File, Kind.Redis)]
    [TestCase(Kind.Redis, Kind.DynamoDB)]
    public async Task Import_CacheExportedFromAnotherBackend_ServesEveryUrlWithoutTheOrigin(Kind from, Kind to)
    {
        var tag = Unique();
        await using var source = await CreateAsync(from, Options());
        var expected = await PopulateAsync(source, tag);
        var file = _folder.File($"{tag}.chx");

        CacheTransferResult exported;
        await using (var stream = File.Create(file))
        {
            exported = await source.ExportAsync(stream);
        }

        await using var target = await CreateAsync(to, Options());
        CacheTransferResult imported;
        await using (var stream = File.OpenRead(file))
        {
            imported = await target.ImportAsync(stream);
        }

        exported.Responses.Should().Be(6, "json, cache, bytes, the end of the redirect chain and two Vary variants");
        imported.Should().BeEquivalentTo(exported, o => o.Excluding(r => r.Elapsed));
        imported.Redirects.Should().Be(2);
        imported.VaryIndexes.Should().Be(1);
        await ShouldServeEverythingFromTheCacheAsync(target, tag, expected);
    }

    [Test]
    public async Task Import_SignedSqliteIntoEncryptedRedisWithOtherKeys_ServesEveryUrlWithoutTheOrigin()
    {
        var tag = Unique();
        var signed = Options();
        signed.Serializer.SigningKeys.Add(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        signed.Serializer.Compression = CacheCompression.Brotli;
        var encrypted = Options();
        encrypted.Serializer.EncryptionKeys.Add(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());
        await using var source = await CreateAsync(Kind.Sqlite, signed);
        var expected = await PopulateAsync(source, tag);
        using var export = new MemoryStream();
        await source.ExportAsync(export, new CacheExportOptions { Compress = true });
        export.Position = 0;

        await using var target = await CreateAsync(Kind.Redis, encrypted);
        var result = await target.ImportAsync(export);

        result.Entries.Should().Be(9);
        await ShouldServeEverythingFromTheCacheAsync(target, tag, expected);
    }

    /// <summary>One hour of freshness; sessions never close the backends (the test does).</summary>
    private static CacheOptions Options() => new() { ExpireAfter = Expiration.After(TimeSpan.FromHours(1)), AutoClose = false };

    /// <summary>The requests of a test: a path (with the test's tag) and an Accept-Language, or null.</summary>
    private static (string Path, string? Language)[] Requests(string tag) =>
    [
        ($"/json?t={tag}", null),
        ($"/cache/3600?t={tag}", null),
        ($"/bytes/200000?seed=7&t={tag}", null),
        ($"/redirect/2?t={tag}", null),
        ($"/vary?by=Accept-Language&t={tag}", "en"),
        ($"/vary?by=Accept-Language&t={tag}", "fr"),
    ];

    /// <summary>The requests a hit must answer: every request, and the later hops of the redirect chain.</summary>
    private static (string Path, string? Language)[] Hits(string tag)
        => [.. Requests(tag), ($"/redirect/1?t={tag}", null), ($"/redirect/0?t={tag}", null)];

    private async Task<Dictionary<string, byte[]>> PopulateAsync(CacheBackend backend, string tag)
    {
        using var session = new CachedSession(backend, disposeHandler: true) { BaseAddress = Origin.BaseAddress };
        var bodies = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (path, language) in Requests(tag))
        {
            using var response = await SendAsync(session, path, language);
            response.IsFromCache().Should().BeFalse(path);
            bodies[path + language] = await response.Content.ReadAsByteArrayAsync();
        }

        bodies[$"/redirect/1?t={tag}"] = bodies[$"/redirect/0?t={tag}"] = bodies[$"/redirect/2?t={tag}"];
        return bodies;
    }

    private async Task ShouldServeEverythingFromTheCacheAsync(CacheBackend target, string tag, Dictionary<string, byte[]> expected)
    {
        var before = OriginRequests(tag);
        using var session = new CachedSession(target, disposeHandler: true) { BaseAddress = Origin.BaseAddress };
        foreach (var (path, language) in Hits(tag))
        {
            using var response = await SendAsync(session, path, language);
            response.IsFromCache().Should().BeTrue($"{path} {language}");
            (await response.Content.ReadAsByteArrayAsync()).Should().Equal(expected[path + language], $"{path} {language}");
        }

        OriginRequests(tag).Should().Be(before, "every URL was served by the target without the origin");
    }

    private int OriginRequests(string tag) => Origin.RecordedRequests.Count(r => r.Query.Contains(tag, StringComparison.Ordinal));

    private static async Task<HttpResponseMessage> SendAsync(CachedSession session, string path, string? language)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (language is not null)
        {
            request.Headers.Add("Accept-Language", language);
        }

        return await session.SendAsync(request);
    }

    private async Task<CacheBackend> CreateAsync(Kind kind, CacheOptions options)
    {
        var name = kind.ToString().ToLowerInvariant() + "-" + Guid.NewGuid().ToString("N")[..8];
        switch (kind)
        {
            case Kind.Memory:
                return new CacheBackend(options);
            case Kind.Sqlite:
                return new SqliteBackend(_folder.File(name + ".sqlite"), options);
            case Kind.File:
                return new FileBackend(_folder.File(name), options);
            case Kind.Redis:
                var prefix = "cachedhttp-transfer-" + name;
                _redisPrefixes.Add(prefix);
                return new RedisBackend(await RedisTestServers.SingleAsync(), options, new RedisCacheOptions { KeyPrefix = prefix });
            default:
                await _dynamoLock.WaitAsync();
                try
                {
                    _dynamo ??= await DynamoDbServer.ConnectOrIgnoreAsync();
                }
                finally
                {
                    _dynamoLock.Release();
                }

                var table = "cachedhttp-transfer-" + name;
                _tables.Add(table);
                return new DynamoDbBackend(_dynamo, options, new DynamoDbCacheOptions { TableName = table });
        }
    }
}
