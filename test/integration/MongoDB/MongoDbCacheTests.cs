using System.Net;
using System.Text;
using CachedHttp.MongoDB;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Bson;
using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>MongoDB-specific behaviour of <see cref="MongoDbCache"/>: GridFS for large values, no orphaned chunks, the TTL index.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbCacheTests
{
    private IMongoDatabase _database = null!;

    [SetUp]
    public async Task CreateDatabase() => _database = await MongoServer.NewDatabaseOrIgnoreAsync();

    [TearDown]
    public Task DropDatabase() => MongoServer.DropQuietlyAsync(_database);

    internal static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    internal static Task<long> CountAsync(IMongoDatabase database, string collection)
        => database.GetCollection<BsonDocument>(collection).CountDocumentsAsync(FilterDefinition<BsonDocument>.Empty);

    private Task<BsonDocument?> DocumentAsync(string collection, string key)
        => _database.GetCollection<BsonDocument>(collection).Find(Builders<BsonDocument>.Filter.Eq("_id", key)).FirstOrDefaultAsync()!;

    /// <summary>A fake clock at the real time (the TTL monitor deletes by the real clock, so times must not be in the past).</summary>
    internal static FakeTimeProvider ClockAtNow() => new(DateTimeOffset.UtcNow);

    [Test]
    public async Task Write_20MB_GoesToGridFsAutomatically_AndRoundTrips()
    {
        using var cache = new MongoDbCache(_database, "responses");
        var value = RandomBytes(20_000_000, 1);

        await cache.WriteAsync("big", value);

        var document = await DocumentAsync("responses", "big");
        document.Should().NotBeNull();
        document!.Contains("data").Should().BeFalse("20 MB does not fit in a 16 MiB document");
        document["gridfs_id"].IsObjectId.Should().BeTrue();
        document["size"].ToInt64().Should().Be(20_000_000);
        var file = await _database.GetCollection<BsonDocument>("responses_bodies.files").Find(FilterDefinition<BsonDocument>.Empty).SingleAsync();
        file["_id"].Should().Be(document["gridfs_id"]);
        file["filename"].AsString.Should().Be("big");
        file["length"].ToInt64().Should().Be(20_000_000);
        (await CountAsync(_database, "responses_bodies.chunks")).Should().BePositive();
        (await cache.ReadAsync("big")).Should().Equal(value);
        (await cache.CountAsync()).Should().Be(1);
        await foreach (var entry in cache.GetEntriesAsync())
        {
            entry.Key.Should().Be("big");
            entry.Value.Should().Equal(value);
        }
    }

    [Test]
    public async Task Write_UnderThreshold_StaysInline()
    {
        using var cache = new MongoDbCache(_database, "responses");
        await cache.WriteAsync("small", Encoding.UTF8.GetBytes("hello"));

        var document = await DocumentAsync("responses", "small");
        document!["data"].AsBsonBinaryData.Bytes.Should().Equal(Encoding.UTF8.GetBytes("hello"));
        document.Contains("gridfs_id").Should().BeFalse();
        document["delete_after"].Should().Be(BsonNull.Value);
        document["size"].ToInt64().Should().Be(5);
        (await CountAsync(_database, "responses_bodies.files")).Should().Be(0);
    }

    [Test]
    public async Task Delete_LargeValue_RemovesItsGridFsFileAndChunks()
    {
        using var cache = new MongoDbCache(_database, "responses");
        await cache.WriteAsync("big", RandomBytes(20_000_000, 2));

        (await cache.DeleteAsync("big")).Should().BeTrue();

        (await CountAsync(_database, "responses")).Should().Be(0);
        (await CountAsync(_database, "responses_bodies.files")).Should().Be(0);
        (await CountAsync(_database, "responses_bodies.chunks")).Should().Be(0);
        (await cache.ReadAsync("big")).Should().BeNull();
    }

    [Test]
    public async Task Write_ReplacingLargeValue_DeletesTheOldFileAfterwards()
    {
        using var cache = new MongoDbCache(_database, "responses", new MongoDbCacheOptions { GridFsThreshold = 100_000 });
        await cache.WriteAsync("k", RandomBytes(600_000, 1));
        var firstFile = (await DocumentAsync("responses", "k"))!["gridfs_id"];
        var second = RandomBytes(700_000, 2);

        await cache.WriteAsync("k", second);

        var secondFile = (await DocumentAsync("responses", "k"))!["gridfs_id"];
        secondFile.Should().NotBe(firstFile);
        var files = await _database.GetCollection<BsonDocument>("responses_bodies.files").Find(FilterDefinition<BsonDocument>.Empty).ToListAsync();
        files.Should().ContainSingle().Which["_id"].Should().Be(secondFile);
        (await _database.GetCollection<BsonDocument>("responses_bodies.chunks").CountDocumentsAsync(Builders<BsonDocument>.Filter.Eq("files_id", firstFile))).Should().Be(0);
        (await cache.ReadAsync("k")).Should().Equal(second);

        await cache.WriteAsync("k", Encoding.UTF8.GetBytes("small now"));
        (await CountAsync(_database, "responses_bodies.files")).Should().Be(0);
        (await CountAsync(_database, "responses_bodies.chunks")).Should().Be(0);
        (await cache.ReadAsync("k")).Should().Equal(Encoding.UTF8.GetBytes("small now"));
    }

    [Test]
    public async Task DeleteMany_MixedInlineAndGridFs_DeletesDocumentsAndFiles()
    {
        using var cache = new MongoDbCache(_database, "responses", new MongoDbCacheOptions { GridFsThreshold = 1000 });
        for (var i = 0; i < 10; i++)
        {
            await cache.WriteAsync($"k{i}", RandomBytes(i % 2 == 0 ? 5000 : 10, i));
        }

        (await cache.DeleteManyAsync(["k0", "k1", "k2", "k3", "k2", "missing"])).Should().Be(4);

        (await cache.CountAsync()).Should().Be(6);
        (await CountAsync(_database, "responses_bodies.files")).Should().Be(3, "k4, k6, k8 keep theirs");
        (await cache.ReadAsync("k4")).Should().Equal(RandomBytes(5000, 4));
    }

    [Test]
    public async Task Clear_LeavesNoDocumentsFilesOrOrphanedChunks_AndKeepsOtherCollections()
    {
        using var responses = new MongoDbCache(_database, "responses", new MongoDbCacheOptions { GridFsThreshold = 1000 });
        using var redirects = new MongoDbCache(_database, "redirects", new MongoDbCacheOptions { GridFsThreshold = 1000 });
        for (var i = 0; i < 6; i++)
        {
            await responses.WriteAsync($"k{i}", RandomBytes(i % 2 == 0 ? 300_000 : 10, i));
        }

        await redirects.WriteAsync("alias", RandomBytes(5000, 9));

        await responses.ClearAsync();

        (await CountAsync(_database, "responses")).Should().Be(0);
        (await CountAsync(_database, "responses_bodies.files")).Should().Be(0);
        (await CountAsync(_database, "responses_bodies.chunks")).Should().Be(0);
        (await redirects.ReadAsync("alias")).Should().Equal(RandomBytes(5000, 9));
        await responses.WriteAsync("again", RandomBytes(300_000, 1));
        (await responses.ReadAsync("again")).Should().Equal(RandomBytes(300_000, 1));
    }

    [Test]
    public async Task FirstUse_CreatesTtlIndexOnDeleteAfter_WithExpireAfterSecondsZero()
    {
        using var cache = new MongoDbCache(_database, "responses");
        await cache.ContainsAsync("anything");

        var indexes = await (await _database.GetCollection<BsonDocument>("responses").Indexes.ListAsync()).ToListAsync();
        var ttl = indexes.Should().ContainSingle(index => index["key"].AsBsonDocument.Contains("delete_after")).Subject;
        ttl["key"].AsBsonDocument.ElementCount.Should().Be(1);
        ttl["key"]["delete_after"].ToInt32().Should().Be(1);
        ttl["expireAfterSeconds"].ToInt64().Should().Be(0);
    }

    [Test]
    public async Task Write_DeleteAfter_IsStoredAsADate_AndHiddenOncePast()
    {
        var time = ClockAtNow();
        using var cache = new MongoDbCache(_database, "responses", timeProvider: time);
        var deleteAfter = time.GetUtcNow().AddMinutes(10);

        await cache.WriteAsync("k", new byte[] { 1 }, deleteAfter);

        var stored = (await DocumentAsync("responses", "k"))!["delete_after"];
        stored.IsValidDateTime.Should().BeTrue();
        stored.ToUniversalTime().Should().BeCloseTo(deleteAfter.UtcDateTime, TimeSpan.FromMilliseconds(1));
        time.Advance(TimeSpan.FromMinutes(10));
        (await cache.ReadAsync("k")).Should().BeNull("reads hide it before the TTL monitor removes it");
        (await cache.ContainsAsync("k")).Should().BeFalse();
        (await cache.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task DeleteExpired_RemovesExpiredGridFsFiles_EvenAfterTheTtlMonitorRemovedTheirDocuments()
    {
        var time = ClockAtNow();
        using var cache = new MongoDbCache(_database, "responses", new MongoDbCacheOptions { GridFsThreshold = 1000 }, time);
        await cache.WriteAsync("expiring", RandomBytes(5000, 1), time.GetUtcNow().AddMinutes(1));
        await cache.WriteAsync("expiring-too", RandomBytes(5000, 2), time.GetUtcNow().AddMinutes(1));
        await cache.WriteAsync("kept", RandomBytes(5000, 3), time.GetUtcNow().AddHours(1));

        // What the TTL monitor does: the document goes, its GridFS file stays.
        await _database.GetCollection<BsonDocument>("responses").DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", "expiring"));
        time.Advance(TimeSpan.FromMinutes(2));

        (await cache.DeleteExpiredAsync()).Should().Be(1, "one expired document was still there");

        var files = await _database.GetCollection<BsonDocument>("responses_bodies.files").Find(FilterDefinition<BsonDocument>.Empty).ToListAsync();
        files.Should().ContainSingle().Which["filename"].AsString.Should().Be("kept");
        (await _database.GetCollection<BsonDocument>("responses_bodies.chunks").CountDocumentsAsync(Builders<BsonDocument>.Filter.Ne("files_id", files[0]["_id"]))).Should().Be(0);
        (await cache.ReadAsync("kept")).Should().Equal(RandomBytes(5000, 3));
    }

    [Test]
    public async Task Backend_FromConnectionString_UsesDatabaseName_AndStoresResponses()
    {
        var connectionString = await MongoServer.ConnectionStringOrIgnoreAsync();
        var databaseName = _database.DatabaseNamespace.DatabaseName;
        var calls = 0;
        using (var backend = new MongoDbBackend(connectionString, new CacheOptions(), new MongoDbCacheOptions { DatabaseName = databaseName }))
        using (var http = new HttpClient(new CachingHandler(backend, new StubHandler(() => Interlocked.Increment(ref calls)))))
        {
            (await http.GetStringAsync("http://origin.test/a")).Should().Be("hello");
            using var second = await http.GetAsync("http://origin.test/a");
            second.IsFromCache().Should().BeTrue();
            backend.Database.DatabaseNamespace.DatabaseName.Should().Be(databaseName);
        }

        calls.Should().Be(1);
        (await CountAsync(_database, "responses")).Should().Be(1);
    }

    [Test]
    public async Task Dispose_PassedDatabase_ItsClientStaysUsable()
    {
        var backend = new MongoDbBackend(_database);
        await backend.Responses.WriteAsync("k", new byte[] { 1 });
        await backend.DisposeAsync();
        var gridFs = new GridFsBackend(_database);
        await gridFs.Responses.WriteAsync("k", new byte[] { 2 });
        gridFs.Dispose();

        using var cache = new MongoDbCache(_database, "responses");
        (await cache.ReadAsync("k")).Should().Equal(1);
        (await CountAsync(_database, "responses.files")).Should().Be(1, "the GridFS backend's bucket is named after the store");
    }
}

/// <summary>Checks that need no MongoDB server: option validation and failing open when the server is unreachable.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoDbWithoutServerTests
{
    // The driver connects lazily: a client for a port where nothing listens is enough to build storages.
    private static readonly MongoClient Unreachable = new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000");

    [TestCase(nameof(MongoDbCacheOptions.GridFsThreshold), -1L)]
    [TestCase(nameof(MongoDbCacheOptions.GridFsThreshold), 16L * 1024 * 1024)]
    [TestCase(nameof(MongoDbCacheOptions.OperationTimeout), 0L)]
    [TestCase(nameof(MongoDbCacheOptions.DatabaseName), 0L)]
    public void Constructors_InvalidOption_ThrowArgumentExceptionNamingIt(string option, long value)
    {
        var options = new MongoDbCacheOptions();
        switch (option)
        {
            case nameof(MongoDbCacheOptions.GridFsThreshold): options.GridFsThreshold = value; break;
            case nameof(MongoDbCacheOptions.OperationTimeout): options.OperationTimeout = TimeSpan.FromTicks(value); break;
            case nameof(MongoDbCacheOptions.DatabaseName): options.DatabaseName = "has.dot"; break;
        }

        var database = Unreachable.GetDatabase("x");
        FluentActions.Invoking(() => new MongoDbCache(database, "responses", options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new GridFsCache(database, "responses", options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new MongoDbBackend(database, null, options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new GridFsBackend(database, null, options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new MongoDbBackend("mongodb://127.0.0.1:1", null, options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new GridFsBackend("mongodb://127.0.0.1:1", null, options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
    }

    [Test]
    public void Constructors_BadArguments_Throw()
    {
        var database = Unreachable.GetDatabase("x");
        FluentActions.Invoking(() => new MongoDbCache(null!, "responses")).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new MongoDbCache(database, "")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new GridFsCache(database, "system.files")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new MongoDbBackend((IMongoDatabase)null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new MongoDbBackend("not a connection string")).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("connectionString");
        FluentActions.Invoking(() => new GridFsBackend(database, new CacheOptions { MaxBodySize = -1 })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("MaxBodySize");
        FluentActions.Invoking(() => new MongoDbBackend("mongodb://127.0.0.1:1", new CacheOptions { MaxBodySize = -1 })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("MaxBodySize");
    }

    [Test]
    public async Task Request_MongoDbUnreachable_StillSucceedsFromTheNetwork()
    {
        using var backend = new MongoDbBackend("mongodb://127.0.0.1:1/?connectTimeoutMS=1000", mongoOptions: new MongoDbCacheOptions { OperationTimeout = TimeSpan.FromSeconds(1) });
        var calls = 0;
        using var http = new HttpClient(new CachingHandler(backend, new StubHandler(() => Interlocked.Increment(ref calls))));

        for (var i = 0; i < 2; i++)
        {
            using var response = await http.GetAsync("http://origin.test/outage");
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            response.IsFromCache().Should().BeFalse();
            (await response.Content.ReadAsStringAsync()).Should().Be("hello");
        }

        calls.Should().Be(2);
    }

    [Test]
    public async Task Storage_MongoDbUnreachable_FailsWithinTheOperationTimeout()
    {
        using var cache = new GridFsCache(Unreachable.GetDatabase("x"), "responses", new MongoDbCacheOptions { OperationTimeout = TimeSpan.FromMilliseconds(500) });
        var started = DateTime.UtcNow;
        var read = async () => await cache.ReadAsync("k");
        await read.Should().ThrowAsync<Exception>();
        (DateTime.UtcNow - started).Should().BeLessThan(TimeSpan.FromSeconds(5));
    }
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
