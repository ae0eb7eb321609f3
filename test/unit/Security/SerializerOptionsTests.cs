using System.IO.Compression;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

[Parallelizable(ParallelScope.All)]
public class SerializerOptionsTests
{
    [TestCase(0)]
    [TestCase(15)]
    [TestCase(20)]
    [TestCase(33)]
    [TestCase(64)]
    public void Construct_EncryptionKeyOfWrongLength_ThrowsNamingTheOption(int length)
    {
        var options = new CacheOptions();
        options.Serializer.EncryptionKeys.Add(NewKey(32));
        options.Serializer.EncryptionKeys.Add(new byte[length]);

        var act = () => new CacheBackend(options);

        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "Serializer.EncryptionKeys" && e.Message.Contains("EncryptionKeys[1]") && e.Message.Contains($"{length} bytes"));
    }

    [TestCase(16)]
    [TestCase(24)]
    [TestCase(32)]
    public void Construct_EncryptionKeyOfAesLength_Succeeds(int length)
    {
        var options = new CacheOptions();
        options.Serializer.EncryptionKeys.Add(NewKey(length));

        var act = () => new CacheBackend(options).Dispose();

        act.Should().NotThrow();
    }

    [Test]
    public void Construct_ShortOrNullSigningKey_ThrowsNamingTheOption()
    {
        var shortKey = new CacheOptions();
        shortKey.Serializer.SigningKeys.Add(new byte[8]);
        var nullKey = new CacheOptions();
        nullKey.Serializer.SigningKeys.Add(null!);

        FluentActions.Invoking(() => new CacheBackend(shortKey)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer.SigningKeys");
        FluentActions.Invoking(() => new CacheBackend(nullKey)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer.SigningKeys");
    }

    [Test]
    public void Construct_InvalidSerializerSettings_ThrowNamingTheOption()
    {
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { Serializer = null! })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer");
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { Serializer = new() { CompressionThreshold = -1 } })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer.CompressionThreshold");
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { Serializer = new() { Compression = (CacheCompression)7 } })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer.Compression");
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { Serializer = new() { CompressionLevel = (CompressionLevel)9 } })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer.CompressionLevel");
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { Serializer = new() { SigningKeys = null! } })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Serializer.SigningKeys");
    }

    [Test]
    public void Construct_InvalidCredentialOptions_ThrowNamingTheOption()
    {
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { CredentialKey = new byte[4] })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("CredentialKey");
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { SecretParameters = null! })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("SecretParameters");
        FluentActions.Invoking(() => new CacheBackend(new CacheOptions { SecretParameters = new HashSet<string> { "" } })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("SecretParameters");
    }

    [Test]
    public void Defaults_AreDocumentedValues()
    {
        var options = new CacheOptions();

        options.Serializer.Compression.Should().Be(CacheCompression.None);
        options.Serializer.CompressionThreshold.Should().Be(1024);
        options.Serializer.CompressionLevel.Should().Be(CompressionLevel.Fastest);
        options.Serializer.SigningKeys.Should().BeEmpty();
        options.Serializer.EncryptionKeys.Should().BeEmpty();
        options.CredentialKey.Should().BeNull();
        options.SecretParameters.Should().Contain(["api_key", "access_token", "token", "password", "client_secret", "sig", "key"]);
        options.SecretParameters.Contains("API_KEY").Should().BeTrue("names are case-insensitive");
    }

    [Test]
    public void Clone_CopiesSerializerKeysAndSecrets()
    {
        var options = new CacheOptions { CredentialKey = NewKey(32, 3) };
        options.Serializer.SigningKeys.Add(NewKey(32, 4));
        options.Serializer.Compression = CacheCompression.GZip;
        options.SecretParameters.Add("session");

        var copy = options.Clone();
        options.Serializer.SigningKeys[0][0] ^= 0xFF;
        options.Serializer.SigningKeys.Clear();
        options.SecretParameters.Clear();
        options.CredentialKey[0] ^= 0xFF;

        copy.Serializer.Compression.Should().Be(CacheCompression.GZip);
        copy.Serializer.SigningKeys.Should().ContainSingle().Which.Should().Equal(NewKey(32, 4));
        copy.SecretParameters.Should().Contain("session");
        copy.CredentialKey.Should().Equal(NewKey(32, 3));
    }

    [Test]
    public void Backend_KeepsTheKeysItWasBuiltWith()
    {
        var options = new CacheOptions();
        options.Serializer.SigningKeys.Add(NewKey(32, 4));
        using var backend = new CacheBackend(options);
        var bytes = backend.Serializer.Serialize(Json(), Key);

        options.Serializer.SigningKeys[0][0] ^= 0xFF;

        backend.Serializer.Deserialize(bytes, Key).Body.Length.Should().Be(Json().Body.Length);
    }
}
