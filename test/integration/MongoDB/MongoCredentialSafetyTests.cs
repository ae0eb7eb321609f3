using System.Security.Cryptography;
using System.Text;
using CachedHttp.MongoDB;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Security;
using MongoDB.Bson;
using MongoDB.Driver;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>
/// The credential-safety proof on MongoDB and GridFS: every document of every collection of the backend's database —
/// entries, GridFS files and chunks — is read raw as BSON and searched. Ignored without a server.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class MongoCredentialSafetyTests : OriginFixture
{
    private readonly System.Collections.Concurrent.ConcurrentBag<IMongoDatabase> _databases = [];

    [OneTimeTearDown]
    public async Task DropDatabases()
    {
        foreach (var database in _databases)
        {
            await MongoServer.DropQuietlyAsync(database);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task TwoTokens_Mongo_AreIsolatedAndNeverStored(bool gridFs)
    {
        var database = await NewDatabaseAsync();
        using var backend = NewBackend(database, new CacheOptions(), gridFs);
        await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin, () => Raw(database));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task SecretQueryParameters_Mongo_AreRedactedAndNeverStored(bool gridFs)
    {
        var database = await NewDatabaseAsync();
        using var backend = NewBackend(database, CredentialSafety.Options(), gridFs);
        await CredentialSafety.AssertSecretParametersNeverStoredAsync(backend, Origin, () => Raw(database));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task TwoTokens_MongoEncrypted_EchoedSecretsAreNotStoredInClear(bool gridFs)
    {
        var database = await NewDatabaseAsync();
        var options = new CacheOptions();
        options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
        using var backend = NewBackend(database, options, gridFs);
        await CredentialSafety.AssertEchoedSecretsEncryptedAtRestAsync(backend, Origin, () => Raw(database));
    }

    private static CacheBackend NewBackend(IMongoDatabase database, CacheOptions options, bool gridFs)
        => gridFs ? new GridFsBackend(database, options) : new MongoDbBackend(database, options);

    private async Task<IMongoDatabase> NewDatabaseAsync()
    {
        var database = await MongoServer.NewDatabaseOrIgnoreAsync();
        _databases.Add(database);
        return database;
    }

    /// <summary>Every document of every collection of the database, as raw BSON, and the collection names.</summary>
    private static async IAsyncEnumerable<byte[]> Raw(IMongoDatabase database)
    {
        var documents = 0;
        foreach (var name in await (await database.ListCollectionNamesAsync()).ToListAsync())
        {
            yield return Encoding.UTF8.GetBytes(name);
            using var cursor = await database.GetCollection<RawBsonDocument>(name).FindAsync(FilterDefinition<RawBsonDocument>.Empty);
            while (await cursor.MoveNextAsync())
            {
                foreach (var document in cursor.Current)
                {
                    documents++;
                    yield return document.ToBson();
                }
            }
        }

        Assert.That(documents, Is.GreaterThan(0), "the backend's documents were found in the database");
    }
}
