using CachedHttp.MongoDB;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.SizeBounds;
using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>MongoDB expires documents by its TTL index: MaxEntries and MaxBytes are refused, MaxEntryBytes honoured.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class MongoSizeBoundsTests
{
    private TestOrigin _origin = null!;
    private IMongoDatabase? _database;

    [OneTimeSetUp]
    public async Task StartOrigin() => _origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public async Task StopOrigin() => await _origin.DisposeAsync();

    [TearDown]
    public async Task DropDatabase()
    {
        await MongoServer.DropQuietlyAsync(_database);
        _database = null;
    }

    [Test]
    public async Task Constructor_MaxEntriesOrMaxBytes_ThrowsNamingTheOption()
    {
        _database = await MongoServer.NewDatabaseOrIgnoreAsync();

        ServerBackendBounds.RejectsMaxEntriesAndMaxBytes(options => new MongoDbBackend(_database, options), "mongodb");
        ServerBackendBounds.RejectsMaxEntriesAndMaxBytes(options => new GridFsBackend(_database, options), "gridfs");
    }

    [TestCase(nameof(CacheOptions.MaxEntries))]
    [TestCase(nameof(CacheOptions.MaxBytes))]
    public void Constructor_ConnectionStringAndSizeBound_ThrowsBeforeCreatingAClient(string option)
    {
        // Needs no server: the options are refused before a client exists.
        var options = option == nameof(CacheOptions.MaxEntries) ? new CacheOptions { MaxEntries = 5 } : new CacheOptions { MaxBytes = 5 };

        var mongo = () => new MongoDbBackend("mongodb://127.0.0.1:1", options);
        var gridFs = () => new GridFsBackend("mongodb://127.0.0.1:1", options);

        mongo.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        gridFs.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
    }

    [Test]
    public async Task MaxEntryBytes_LargeEntryServedNotStored_SmallOneStored()
    {
        _database = await MongoServer.NewDatabaseOrIgnoreAsync();

        await ServerBackendBounds.HonoursMaxEntryBytesAsync(_origin, options => new MongoDbBackend(_database, options));
    }
}
