using System.Security.Cryptography;
using System.Text;
using CachedHttp.Tests.Integration.Foundation;

namespace CachedHttp.Tests.Integration.Security;

/// <summary>The credential-safety proof on the file backend: every byte of every file (names included) is searched.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class FileCredentialSafetyTests : OriginFixture
{
    [TestCase(false)]
    [TestCase(true)]
    public async Task TwoTokens_File_AreIsolatedAndNeverStored(bool readable)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cachedhttp-security-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new FileBackend(directory, new CacheOptions(), new FileCacheOptions { ReadableFormat = readable });
            await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin, () => Files(directory).ToAsyncEnumerable());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task SecretQueryParameters_File_AreRedactedAndNeverStored(bool readable)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cachedhttp-security-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var backend = new FileBackend(directory, CredentialSafety.Options(), new FileCacheOptions { ReadableFormat = readable });
            await CredentialSafety.AssertSecretParametersNeverStoredAsync(backend, Origin, () => Files(directory).ToAsyncEnumerable());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task TwoTokens_FileEncrypted_EchoedSecretsAreNotStoredInClear(bool readable)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cachedhttp-security-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new CacheOptions();
            options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
            using var backend = new FileBackend(directory, options, new FileCacheOptions { ReadableFormat = readable });
            await CredentialSafety.AssertEchoedSecretsEncryptedAtRestAsync(backend, Origin, () => Files(directory).ToAsyncEnumerable());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static IEnumerable<byte[]> Files(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            yield return Encoding.UTF8.GetBytes(file);
            yield return File.ReadAllBytes(file);
        }
    }
}
