using System.Security.Cryptography;
using System.Text;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.Foundation;

namespace CachedHttp.Tests.Integration.Security;

/// <summary>Credentials, signing and encryption over real sockets, on the in-memory backend.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class CredentialSafetyTests : OriginFixture
{
    [Test]
    public async Task TwoTokens_Memory_AreIsolatedAndNeverStored()
    {
        using var backend = new CacheBackend();
        await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin);
    }

    [Test]
    public async Task TwoTokens_MemorySignedAndCompressed_AreIsolatedAndNeverStored()
    {
        using var backend = new CacheBackend(Protected(sign: true, encrypt: false, CacheCompression.Brotli));
        await CredentialSafety.AssertIsolatedAndNeverStoredAsync(backend, Origin);
    }

    [Test]
    public async Task SecretQueryParameters_Memory_AreRedactedAndNeverStored()
    {
        using var backend = new CacheBackend(CredentialSafety.Options());
        await CredentialSafety.AssertSecretParametersNeverStoredAsync(backend, Origin);
    }

    [Test]
    public async Task TwoTokens_MemoryEncrypted_EchoedSecretsAreNotStoredInClear()
    {
        using var backend = new CacheBackend(Protected(sign: false, encrypt: true, CacheCompression.GZip));
        await CredentialSafety.AssertEchoedSecretsEncryptedAtRestAsync(backend, Origin);
    }

    [Test]
    public async Task Echo_WithoutEncryption_StoresTheBodyAsSentButRedactsTheMetadata()
    {
        using var backend = new CacheBackend();
        using var session = new CachedSession(backend) { BaseAddress = Origin.BaseAddress };
        var token = "echoed-" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/echo?run=" + token);
        request.Headers.Authorization = new("Bearer", token);
        (await session.SendAsync(request)).Dispose();

        var stored = await backend.GetResponsesAsync().SingleAsync();

        Assert.That(Encoding.UTF8.GetString(stored.Body.Span), Does.Contain(token), "the body is the origin's: only encryption hides it");
        Assert.That(stored.RequestHeaders.GetValue("Authorization"), Is.EqualTo("REDACTED"));
    }

    [Test]
    public async Task TamperedEntry_Signed_IsRefetchedFromTheOrigin()
    {
        using var backend = new CacheBackend(Protected(sign: true, encrypt: false, CacheCompression.None));
        using var session = new CachedSession(backend) { BaseAddress = Origin.BaseAddress };
        var path = "/bytes/3000?seed=5&u=" + Unique();
        await session.GetByteArrayAsync(path);
        var entry = await backend.Responses.GetEntriesAsync().SingleAsync();
        var tampered = entry.Value.ToArray();
        tampered[^100] ^= 0x01;
        await backend.Responses.WriteAsync(entry.Key, tampered);

        var body = await session.GetByteArrayAsync(path);
        using var hit = await session.GetAsync(path);

        Assert.That(body, Is.EqualTo(TestOrigin.ExpectedBytes(3000, 5)));
        Assert.That(Origin.RecordedRequests.Count(r => r.Query.Contains(path.Split("u=")[1], StringComparison.Ordinal)), Is.EqualTo(2));
        Assert.That(hit.IsFromCache(), Is.True, "the refetched response is stored again");
    }

    [Test]
    public async Task KeyRotation_OldEntriesHitUntilTheOldKeyIsRemoved()
    {
        var oldKey = RandomNumberGenerator.GetBytes(32);
        var newKey = RandomNumberGenerator.GetBytes(32);
        using var responses = new InMemoryCache();
        using var redirects = new InMemoryCache();
        var path = "/json?u=" + Unique();
        var run = path.Split("u=")[1];
        int OriginRequests() => Origin.RecordedRequests.Count(r => r.Query.Contains(run, StringComparison.Ordinal));

        async Task<bool> GetAsync(params byte[][] keys)
        {
            var options = new CacheOptions();
            foreach (var key in keys)
            {
                options.Serializer.EncryptionKeys.Add(key);
            }

            using var session = new CachedSession(new CacheBackend(responses, redirects, options)) { BaseAddress = Origin.BaseAddress };
            using var response = await session.GetAsync(path);
            return response.IsFromCache();
        }

        Assert.That(await GetAsync(oldKey), Is.False);
        Assert.That(await GetAsync(newKey, oldKey), Is.True, "the new key first, the old key kept: old entries still decrypt");
        Assert.That(await GetAsync(newKey), Is.False, "the old key removed: its entries are misses");
        Assert.That(await GetAsync(newKey), Is.True);
        Assert.That(OriginRequests(), Is.EqualTo(2));
    }

    private static CacheOptions Protected(bool sign, bool encrypt, CacheCompression compression)
    {
        var options = new CacheOptions();
        options.Serializer.Compression = compression;
        if (sign)
        {
            options.Serializer.SigningKeys.Add(RandomNumberGenerator.GetBytes(32));
        }

        if (encrypt)
        {
            options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
        }

        return options;
    }
}

/// <summary>The whole backend contract, with every entry compressed, signed and encrypted.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ProtectedMemoryBackendContractTests : CacheBackendContractTests
{
    protected override ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Serializer.Compression = CacheCompression.Brotli;
        options.Serializer.CompressionThreshold = 0;
        options.Serializer.SigningKeys.Add(RandomNumberGenerator.GetBytes(32));
        options.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32));
        return ValueTask.FromResult(new CacheBackend(options));
    }
}
