using System.Security.Cryptography;
using System.Text;
using CachedHttp.Sqlite;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Security;
using Microsoft.Data.Sqlite;

namespace CachedHttp.Tests.Integration.Sqlite;

/// <summary>
/// The credential-safety proof on SQLite: every byte of the database file and of its -wal, -shm or -journal file is
/// searched, with the write-ahead log still holding the entries or after a checkpoint moved them into the file.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class SqliteCredentialSafetyTests : OriginFixture
{
    private readonly TempFolder _folder = new("security");

    [OneTimeTearDown]
    public void DeleteFolder() => _folder.Dispose();

    [TestCase(true, false)]
    [TestCase(true, true)]
    [TestCase(false, false)]
    public async Task TwoTokens_Sqlite_AreIsolatedAndNeverStored(bool walMode, bool checkpoint)
    {
        using var backend = NewBackend(new CacheOptions(), walMode);
        await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin, () => Raw(backend.Path, checkpoint));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task SecretQueryParameters_Sqlite_AreRedactedAndNeverStored(bool checkpoint)
    {
        using var backend = NewBackend(CredentialSafety.Options(), walMode: true);
        await CredentialSafety.AssertSecretParametersNeverStoredAsync(backend, Origin, () => Raw(backend.Path, checkpoint));
    }

    [Test]
    public async Task TwoTokens_SqliteEncrypted_EchoedSecretsAreNotStoredInClear()
    {
        var options = new CacheOptions();
        options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
        using var backend = NewBackend(options, walMode: true);
        await CredentialSafety.AssertEchoedSecretsEncryptedAtRestAsync(backend, Origin, () => Raw(backend.Path, checkpoint: true));
    }

    private SqliteBackend NewBackend(CacheOptions options, bool walMode)
        => new(_folder.File("security-" + Guid.NewGuid().ToString("N")[..10]), options, new SqliteCacheOptions { WalMode = walMode });

    /// <summary>The bytes of the database file and its companions (names included), optionally after a full checkpoint.</summary>
    private static async IAsyncEnumerable<byte[]> Raw(string path, bool checkpoint)
    {
        if (checkpoint)
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            command.ExecuteNonQuery();
        }

        var files = Directory.EnumerateFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + "*").ToList();
        Assert.That(files, Does.Contain(path));
        foreach (var file in files)
        {
            yield return Encoding.UTF8.GetBytes(file);
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            yield return copy.ToArray();
        }
    }
}
