using System.Text;
using CachedHttp.MongoDB;
using MongoDB.Bson;
using MongoDB.Driver;
using static CachedHttp.Tests.Integration.MongoDB.MongoDbCacheTests;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>GridFS-specific behaviour of <see cref="GridFsCache"/>: every value a file, one revision per key, expiry by sweep.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class GridFsCacheTests
{
    private IMongoDatabase _database = null!;

    [SetUp]
    public async Task CreateDatabase() => _database = await MongoServer.NewDatabaseOrIgnoreAsync();

    [TearDown]
    public Task DropDatabase() => MongoServer.DropQuietlyAsync(_database);

    private Task<List<BsonDocument>> FilesAsync() => _database.GetCollection<BsonDocument>("responses.files").Find(FilterDefinition<BsonDocument>.Empty).ToListAsync();

    [Test]
    public async Task Write_SmallValue_IsAGridFsFileNamedByKey_WithDeleteAfterMetadata()
    {
        var time = ClockAtNow();
        using var cache = new GridFsCache(_database, "responses", timeProvider: time);
        var deleteAfter = time.GetUtcNow().AddHours(1);

        await cache.WriteAsync("k", Encoding.UTF8.GetBytes("v"), deleteAfter);
        await cache.WriteAsync("forever", Encoding.UTF8.GetBytes("v"));

        var files = await FilesAsync();
        files.Should().HaveCount(2);
        var file = files.Single(f => f["filename"] == "k");
        file["metadata"]["delete_after"].ToUniversalTime().Should().BeCloseTo(deleteAfter.UtcDateTime, TimeSpan.FromMilliseconds(1));
        files.Single(f => f["filename"] == "forever")["metadata"]["delete_after"].Should().Be(BsonNull.Value);
        (await cache.ReadAsync("k")).Should().Equal(Encoding.UTF8.GetBytes("v"));
    }

    [Test]
    public async Task Write_20MB_RoundTrips()
    {
        using var cache = new GridFsCache(_database, "responses");
        var value = RandomBytes(20_000_000, 4);
        await cache.WriteAsync("big", value);
        (await cache.ReadAsync("big")).Should().Equal(value);
    }

    [Test]
    public async Task Write_Replace_KeepsOnlyTheNewestRevision()
    {
        using var cache = new GridFsCache(_database, "responses");
        await cache.WriteAsync("k", RandomBytes(600_000, 1));
        await cache.WriteAsync("k", RandomBytes(300_000, 2));

        var files = await FilesAsync();
        files.Should().ContainSingle();
        (await CountAsync(_database, "responses.chunks")).Should().Be(2, "300,000 bytes in 255 KiB chunks; the old revision's chunks are gone");
        (await cache.ReadAsync("k")).Should().Equal(RandomBytes(300_000, 2));
        (await cache.CountAsync()).Should().Be(1);
    }

    [Test]
    public async Task Delete_RemovesTheFileAndItsChunks()
    {
        using var cache = new GridFsCache(_database, "responses");
        await cache.WriteAsync("k", RandomBytes(600_000, 1));
        await cache.WriteAsync("other", RandomBytes(10, 2));

        (await cache.DeleteAsync("k")).Should().BeTrue();
        (await cache.DeleteAsync("k")).Should().BeFalse();

        (await FilesAsync()).Should().ContainSingle().Which["filename"].AsString.Should().Be("other");
        (await CountAsync(_database, "responses.chunks")).Should().Be(1);
    }

    [Test]
    public async Task Clear_LeavesNoFilesOrChunks()
    {
        using var cache = new GridFsCache(_database, "responses");
        for (var i = 0; i < 5; i++)
        {
            await cache.WriteAsync($"k{i}", RandomBytes(300_000, i));
        }

        await cache.ClearAsync();

        (await CountAsync(_database, "responses.files")).Should().Be(0);
        (await CountAsync(_database, "responses.chunks")).Should().Be(0);
    }

    [Test]
    public async Task Read_ExpiredFile_IsIgnored_AndDeleteExpiredRemovesItWithItsChunks()
    {
        var time = ClockAtNow();
        using var cache = new GridFsCache(_database, "responses", timeProvider: time);
        await cache.WriteAsync("soon", RandomBytes(300_000, 1), time.GetUtcNow().AddMinutes(1));
        await cache.WriteAsync("later", RandomBytes(10, 2), time.GetUtcNow().AddHours(1));

        time.Advance(TimeSpan.FromMinutes(1));

        (await cache.ReadAsync("soon")).Should().BeNull();
        (await cache.ContainsAsync("soon")).Should().BeFalse();
        (await cache.CountAsync()).Should().Be(1);
        (await CountAsync(_database, "responses.files")).Should().Be(2, "no TTL can delete GridFS files: they stay until swept");

        (await cache.DeleteExpiredAsync()).Should().Be(1);

        (await FilesAsync()).Should().ContainSingle().Which["filename"].AsString.Should().Be("later");
        (await CountAsync(_database, "responses.chunks")).Should().Be(1);
    }
}
