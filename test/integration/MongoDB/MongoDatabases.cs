using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>The databases a fixture created, one per test, dropped together when the fixture ends.</summary>
internal sealed class MongoDatabases
{
    private readonly List<IMongoDatabase> _databases = [];

    /// <summary>A new database (the test is Ignored without a server); with <paramref name="moveClock"/>, the options' fake clock is moved to the server's now (TTL indexes run on real time).</summary>
    public async Task<IMongoDatabase> NewAsync(CacheOptions options, bool moveClock = true)
    {
        var database = await MongoServer.NewDatabaseOrIgnoreAsync();
        _databases.Add(database);
        if (moveClock)
        {
            MongoClock.MoveToNow(options);
        }

        return database;
    }

    /// <summary>Drops every database created so far.</summary>
    public async Task DropAllAsync()
    {
        foreach (var database in _databases)
        {
            await MongoServer.DropQuietlyAsync(database);
        }

        _databases.Clear();
    }
}
