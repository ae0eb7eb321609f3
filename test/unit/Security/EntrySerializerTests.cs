using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CachedHttp.Internal;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

[Parallelizable(ParallelScope.All)]
public class EntrySerializerTests
{
    public static IEnumerable<TestCaseData> Configurations()
    {
        foreach (var compression in new[] { CacheCompression.None, CacheCompression.Brotli, CacheCompression.GZip })
        {
            foreach (var (sign, encrypt) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                yield return new TestCaseData(compression, sign, encrypt).SetArgDisplayNames(compression.ToString(), sign ? "signed" : "unsigned", encrypt ? "encrypted" : "clear");
            }
        }
    }

    [TestCaseSource(nameof(Configurations))]
    public void Serialize_ThenDeserialize_GivesEqualResponse(CacheCompression compression, bool sign, bool encrypt)
    {
        var serializer = Serializer(sign, encrypt, compression);
        foreach (var original in new[] { Version1Expected(), Json(5000) with { Url = new Uri("https://api.example.com/items?page=3") }, Binary(4000), Version1Expected() with { Body = ReadOnlyMemory<byte>.Empty, ExpiresAt = null } })
        {
            var bytes = serializer.Serialize(original, Key);

            var read = serializer.Deserialize(bytes, Key);

            read.ShouldEqual(original);
            serializer.ReadMetadata(bytes, Key).Url.Should().Be(original.Url.OriginalString);
        }
    }

    [TestCaseSource(nameof(Configurations))]
    public void SerializeVaryIndex_ThenDeserialize_GivesEqualIndex(CacheCompression compression, bool sign, bool encrypt)
    {
        var serializer = Serializer(sign, encrypt, compression);
        var index = new VaryIndex { Names = ["accept-language"], Variants = ["k1", "k2"], DeleteAfter = Created.AddDays(1) };

        var read = serializer.DeserializeVaryIndex(serializer.SerializeVaryIndex(index, Key), Key);

        read.Should().BeEquivalentTo(index);
    }

    [Test]
    public void Serialize_WritesVersion2WithFlags()
    {
        Serializer().Serialize(Json(), Key)[3].Should().Be(2);
        Serializer().Serialize(Json(), Key)[4].Should().Be(0x00);
        Serializer(compression: CacheCompression.Brotli).Serialize(Json(), Key)[4].Should().Be(0x01);
        Serializer(compression: CacheCompression.GZip).Serialize(Json(), Key)[4].Should().Be(0x02);
        Serializer(encrypt: true).Serialize(Json(), Key)[4].Should().Be(0x04);
        Serializer(sign: true).Serialize(Json(), Key)[4].Should().Be(0x08);
        Serializer(sign: true, encrypt: true, compression: CacheCompression.Brotli).Serialize(Json(), Key)[4].Should().Be(0x0D);
    }

    [Test]
    public void Deserialize_Version1Entry_IsRead()
    {
        var response = Serializer().Deserialize(Convert.FromBase64String(Version1Response), Key);

        response.ShouldEqual(Version1Expected());
    }

    [Test]
    public void DeserializeVaryIndex_Version1Entry_IsRead()
    {
        var index = Serializer().DeserializeVaryIndex(Convert.FromBase64String(Version1VaryIndex), Key);

        index.Names.Should().Equal("accept-language");
        index.Variants.Should().Equal("aa", "bb");
        index.DeleteAfter.Should().Be(new DateTimeOffset(2025, 1, 10, 0, 0, 0, TimeSpan.Zero));
    }

    [TestCase(true, false, "unsigned")]
    [TestCase(false, true, "unencrypted")]
    [TestCase(true, true, "unsigned")]
    public void Deserialize_Version1EntryWithProtectionOn_IsRejected(bool sign, bool encrypt, string reason)
    {
        var act = () => Serializer(sign, encrypt).Deserialize(Convert.FromBase64String(Version1Response), Key);

        act.Should().Throw<CacheFormatException>().Which.ReasonTag.Should().Be(reason);
    }

    [Test]
    public void Deserialize_UnprotectedBody_IsASliceOfTheStoredArray()
    {
        var bytes = Serializer().Serialize(Binary(16 * 1024), Key);

        var response = Serializer().Deserialize(bytes, Key);

        MemoryMarshal.TryGetArray(response.Body, out var segment).Should().BeTrue();
        segment.Array.Should().BeSameAs(bytes);
    }

    [Test]
    public void Deserialize_SignedBody_IsASliceOfTheStoredArray()
    {
        var serializer = Serializer(sign: true);
        var bytes = serializer.Serialize(Binary(16 * 1024), Key);

        MemoryMarshal.TryGetArray(serializer.Deserialize(bytes, Key).Body, out var segment).Should().BeTrue();
        segment.Array.Should().BeSameAs(bytes);
    }

    [Test]
    public void Deserialize_UnsignedEntryWithSigningOn_IsRejected()
    {
        var bytes = Serializer().Serialize(Json(), Key);

        var act = () => Serializer(sign: true).Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Unsigned);
    }

    [Test]
    public void Deserialize_UnencryptedEntryWithEncryptionOn_IsRejected()
    {
        var bytes = Serializer(sign: true).Serialize(Json(), Key);

        var act = () => new EntrySerializer(WithKeys(signing: [NewKey(32, 11)], encryption: [NewKey(32, 21)])).Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Unencrypted);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Deserialize_ProtectedEntryWithoutKeys_IsRejectedAsUnknownKey(bool encrypt)
    {
        var bytes = Serializer(sign: !encrypt, encrypt: encrypt).Serialize(Json(), Key);

        var act = () => Serializer().Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.UnknownKey);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Deserialize_WrongKey_IsRejected(bool encrypt)
    {
        var writer = new EntrySerializer(encrypt ? WithKeys(encryption: [NewKey(32, 1)]) : WithKeys(signing: [NewKey(32, 1)]));
        var reader = new EntrySerializer(encrypt ? WithKeys(encryption: [NewKey(32, 2)]) : WithKeys(signing: [NewKey(32, 2)]));
        var bytes = writer.Serialize(Json(), Key);

        var act = () => reader.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.UnknownKey);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Deserialize_WrongKeyWithTheSameKeyId_IsRejected(bool encrypt)
    {
        // Forge a key-id collision: put the reader's key id into the entry (the id is not secret).
        var writer = new EntrySerializer(encrypt ? WithKeys(encryption: [NewKey(32, 1)]) : WithKeys(signing: [NewKey(32, 1)]));
        var readerKey = NewKey(32, 2);
        var reader = new EntrySerializer(encrypt ? WithKeys(encryption: [readerKey]) : WithKeys(signing: [readerKey]));
        var bytes = writer.Serialize(Json(), Key);
        System.Security.Cryptography.SHA256.HashData(readerKey).AsSpan(0, 4).CopyTo(bytes.AsSpan(26, 4));

        var act = () => reader.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(encrypt ? RejectReason.Decryption : RejectReason.Signature);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Deserialize_EntryMovedToAnotherKey_IsRejected(bool encrypt)
    {
        var serializer = Serializer(sign: !encrypt, encrypt: encrypt);
        var bytes = serializer.Serialize(Json(), Key);

        var act = () => serializer.Deserialize(bytes, Key.Replace('5', '6'));

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(encrypt ? RejectReason.Decryption : RejectReason.Signature);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Deserialize_AfterRotation_OldEntriesAreReadAndNewOnesUseTheFirstKey(bool encrypt)
    {
        var oldKey = NewKey(32, 1);
        var newKey = NewKey(32, 2);
        var before = new EntrySerializer(encrypt ? WithKeys(encryption: [oldKey]) : WithKeys(signing: [oldKey]));
        var after = new EntrySerializer(encrypt ? WithKeys(encryption: [newKey, oldKey]) : WithKeys(signing: [newKey, oldKey]));
        var retired = new EntrySerializer(encrypt ? WithKeys(encryption: [newKey]) : WithKeys(signing: [newKey]));
        var old = before.Serialize(Json(), Key);
        var fresh = after.Serialize(Json(), Key);

        after.Deserialize(old, Key).Body.ToArray().Should().Equal(Json().Body.ToArray());
        retired.Deserialize(fresh, Key).Body.ToArray().Should().Equal(Json().Body.ToArray());
        BinaryPrimitives.ReadUInt32LittleEndian(fresh.AsSpan(26, 4)).Should().Be(BinaryPrimitives.ReadUInt32LittleEndian(System.Security.Cryptography.SHA256.HashData(newKey)));
        var act = () => retired.Deserialize(old, Key);
        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.UnknownKey);
    }

    [Test]
    public void Deserialize_NewerVersion_IsRejected()
    {
        var bytes = Serializer().Serialize(Json(), Key);
        bytes[3] = 3;

        var act = () => Serializer().Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Version);
    }

    [TestCase(0x20)]
    [TestCase(0x80)]
    [TestCase(0x03)]
    public void Deserialize_UnknownFlags_AreRejected(int flags)
    {
        var bytes = Serializer().Serialize(Json(), Key);
        bytes[4] = (byte)flags;

        var act = () => Serializer().Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Flags);
    }

    [Test]
    public void Deserialize_Truncated_IsRejected()
    {
        var bytes = Serializer().Serialize(Json(), Key);

        var act = () => Serializer().Deserialize(bytes.AsMemory(0, bytes.Length - 1), Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Truncated);
    }

    [Test]
    public void Serialize_Encrypted_HidesUrlHeadersAndBody()
    {
        var response = Json() with
        {
            Headers = new CachedHeaders([new("Set-Cookie", ["session=COOKIE-VALUE-42; path=/"])]),
            RequestHeaders = new CachedHeaders([new("Accept", ["application/x-marker"])]),
        };

        var bytes = Serializer(encrypt: true).Serialize(response, Key);

        foreach (var text in new[] { "api.example.com", "/v1/items", "COOKIE-VALUE-42", "application/x-marker", "item 17", "Set-Cookie", "json" })
        {
            Contains(bytes, text).Should().BeFalse(text);
        }
    }

    [Test]
    public void ReadClearHeader_Encrypted_GivesExpiryWithoutKeys()
    {
        var response = Json();
        var bytes = Serializer(encrypt: true).Serialize(response, Key);

        var header = EntrySerializer.ReadClearHeader(bytes);

        header.HasExpiry.Should().BeTrue();
        header.ExpiresAt.Should().Be(response.ExpiresAt);
        header.Kind.Should().Be(EntryKind.Response);
    }

    [Test]
    public void ReadClearHeader_ChangedExpiry_IsRejectedOnRead()
    {
        var serializer = Serializer();
        var bytes = serializer.Serialize(Json(), Key);
        bytes[7] ^= 1;

        var act = () => serializer.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [TestCase(CacheCompression.Brotli)]
    [TestCase(CacheCompression.GZip)]
    public void Serialize_CompressibleBodyAboveThreshold_IsCompressed(CacheCompression compression)
    {
        var response = Json(20_000);

        var compressed = Serializer(compression: compression).Serialize(response, Key);
        var plain = Serializer().Serialize(response, Key);

        compressed.Length.Should().BeLessThan(plain.Length / 3);
    }

    [TestCase("text/html; charset=utf-8", true)]
    [TestCase("application/json", true)]
    [TestCase("application/problem+json", true)]
    [TestCase("application/xml", true)]
    [TestCase("application/atom+xml", true)]
    [TestCase("text/javascript", true)]
    [TestCase("application/javascript", true)]
    [TestCase("image/svg+xml", true)]
    [TestCase("application/x-www-form-urlencoded", true)]
    [TestCase("image/png", false)]
    [TestCase("image/jpeg", false)]
    [TestCase("video/mp4", false)]
    [TestCase("application/zip", false)]
    [TestCase("application/gzip", false)]
    [TestCase("application/octet-stream", false)]
    [TestCase(null, false)]
    public void IsCompressibleMediaType_Table(string? contentType, bool expected)
        => EntrySerializer.IsCompressibleMediaType(contentType).Should().Be(expected);

    [Test]
    public void Serialize_BodyWithContentEncoding_IsNotCompressed()
    {
        var response = Json(20_000, contentEncoding: "gzip");

        var bytes = Serializer(compression: CacheCompression.Brotli).Serialize(response, Key);

        bytes[4].Should().Be(0);
    }

    [Test]
    public void Serialize_IncompressibleTypeOrSmallBody_IsNotCompressed()
    {
        var serializer = Serializer(compression: CacheCompression.Brotli);

        serializer.Serialize(Json(20_000, contentType: "image/png"), Key)[4].Should().Be(0);
        serializer.Serialize(Json(900), Key)[4].Should().Be(0);
        serializer.Serialize(Binary(20_000) with { ContentHeaders = new CachedHeaders([new("Content-Type", ["text/plain"])]) }, Key)[4].Should().Be(0, "random bytes do not get smaller");
    }

    [Test]
    public void Deserialize_CompressedBodyLargerThanMaxBodySize_IsRejected()
    {
        var bytes = Serializer(compression: CacheCompression.Brotli).Serialize(Json(20_000), Key);
        var options = Options(compression: CacheCompression.Brotli);
        options.MaxBodySize = 10_000;

        var act = () => new EntrySerializer(options).Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Compression);
    }

    [Test]
    public void Serialize_TwiceWithEncryption_UsesFreshNonces()
    {
        var serializer = Serializer(encrypt: true);

        var first = serializer.Serialize(Json(), Key);
        var second = serializer.Serialize(Json(), Key);

        first.AsSpan(30, 12).SequenceEqual(second.AsSpan(30, 12)).Should().BeFalse();
        first.Should().NotEqual(second);
    }

    private static CacheOptions WithKeys(IList<byte[]>? signing = null, IList<byte[]>? encryption = null)
    {
        var options = new CacheOptions();
        options.Serializer.SigningKeys = signing ?? [];
        options.Serializer.EncryptionKeys = encryption ?? [];
        options.Validate();
        return options;
    }
}
