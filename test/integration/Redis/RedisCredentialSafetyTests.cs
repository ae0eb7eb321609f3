using System.Security.Cryptography;
using System.Text;
using CachedHttp.Redis;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Security;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>
/// The credential-safety proof on Redis, a single server and the cluster: every key with the backend's prefix on every
/// primary is read raw, its name, its value (GET) and its serialized form (DUMP).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RedisCredentialSafetyTests : OriginFixture
{
    [TestCase(false)]
    [TestCase(true)]
    public async Task TwoTokens_Redis_AreIsolatedAndNeverStored(bool cluster)
    {
        var (connection, prefix) = await ConnectAsync(cluster);
        using var backend = new RedisBackend(connection, new CacheOptions(), new RedisCacheOptions { KeyPrefix = prefix });
        try
        {
            await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin, () => Raw(connection, prefix));
        }
        finally
        {
            await backend.ClearAsync();
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task SecretQueryParameters_Redis_AreRedactedAndNeverStored(bool cluster)
    {
        var (connection, prefix) = await ConnectAsync(cluster);
        using var backend = new RedisBackend(connection, CredentialSafety.Options(), new RedisCacheOptions { KeyPrefix = prefix });
        try
        {
            await CredentialSafety.AssertSecretParametersNeverStoredAsync(backend, Origin, () => Raw(connection, prefix));
        }
        finally
        {
            await backend.ClearAsync();
        }
    }

    [Test]
    public async Task TwoTokens_RedisEncrypted_EchoedSecretsAreNotStoredInClear()
    {
        var (connection, prefix) = await ConnectAsync(cluster: false);
        var options = new CacheOptions();
        options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
        using var backend = new RedisBackend(connection, options, new RedisCacheOptions { KeyPrefix = prefix });
        try
        {
            await CredentialSafety.AssertEchoedSecretsEncryptedAtRestAsync(backend, Origin, () => Raw(connection, prefix));
        }
        finally
        {
            await backend.ClearAsync();
        }
    }

    private static async Task<(IConnectionMultiplexer Connection, string Prefix)> ConnectAsync(bool cluster)
        => (cluster ? await RedisTestServers.ClusterAsync() : await RedisTestServers.SingleAsync(), "cachedhttp-security-" + Guid.NewGuid().ToString("N")[..10]);

    /// <summary>Every key under the prefix on every primary: its name, its value and its DUMP.</summary>
    private static async IAsyncEnumerable<byte[]> Raw(IConnectionMultiplexer connection, string prefix)
    {
        var database = connection.GetDatabase();
        var keys = 0;
        foreach (var server in connection.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(database.Database, prefix + "*", pageSize: 1000))
            {
                keys++;
                yield return Encoding.UTF8.GetBytes(key.ToString());
                Assert.That(await database.KeyTypeAsync(key), Is.EqualTo(RedisType.String), $"{key} is a string: GET reads all of it");
                yield return (byte[])(await database.StringGetAsync(key))!;
                if ((byte[]?)await database.KeyDumpAsync(key) is { } dump)
                {
                    yield return dump;
                }
            }
        }

        Assert.That(keys, Is.GreaterThan(0), "the backend's keys were found on the server");
    }
}
