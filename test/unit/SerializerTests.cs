using System.Buffers.Binary;
using System.Net;
using System.Text;
using CachedHttp.Internal;

namespace CachedHttp.Tests.Unit;

[Parallelizable(ParallelScope.All)]
public class SerializerTests
{
    private const string Key = "key";
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly EntrySerializer Plain = new(new CacheOptions());

    private static CachedResponse Sample() => new()
    {
        Method = "GET",
        Url = new Uri("https://example.com/final?q=1"),
        StatusCode = HttpStatusCode.OK,
        ReasonPhrase = "Fine",
        Version = HttpVersion.Version20,
        Headers = new CachedHeaders(
        [
            new("Set-Cookie", ["a=1; Path=/", "b=2; Path=/"]),
            new("ETag", ["\"v1\""]),
            new("Vary", ["Accept-Language"]),
            new("X-Empty", []),
        ]),
        ContentHeaders = new CachedHeaders([new("Content-Type", ["application/json; charset=utf-8"]), new("Content-Length", ["6"])]),
        TrailingHeaders = new CachedHeaders([new("X-Checksum", ["abc"])]),
        RequestHeaders = new CachedHeaders([new("Accept", ["application/json", "text/plain"]), new("Authorization", ["REDACTED"])]),
        Body = new byte[] { 0, 1, 2, 255, 254, 253 },
        RequestTime = Now.AddSeconds(-1),
        CreatedAt = Now,
        ExpiresAt = Now.AddHours(1),
        History =
        [
            new CachedRedirect("GET", new Uri("https://example.com/start"), 302, ["hop=1; Path=/"]),
            new CachedRedirect("GET", new Uri("https://example.com/middle"), 301, []),
        ],
        VaryValues = new CachedHeaders([new("accept-language", ["en-us"])]),
        AliasKeys = ["alias-one", "alias-two"],
    };

    private static void ShouldEqual(CachedHeaders actual, CachedHeaders expected)
        => actual.Select(h => (h.Key, string.Join("|", h.Value))).Should().Equal(expected.Select(h => (h.Key, string.Join("|", h.Value))));

    [Test]
    public void Deserialize_SerializedResponse_RoundTripsEveryField()
    {
        var original = Sample();

        var copy = Plain.Deserialize(Plain.Serialize(original, Key), Key);

        copy.Method.Should().Be("GET");
        copy.Url.Should().Be(original.Url);
        copy.StatusCode.Should().Be(HttpStatusCode.OK);
        copy.ReasonPhrase.Should().Be("Fine");
        copy.Version.Should().Be(HttpVersion.Version20);
        ShouldEqual(copy.Headers, original.Headers);
        ShouldEqual(copy.ContentHeaders, original.ContentHeaders);
        ShouldEqual(copy.TrailingHeaders, original.TrailingHeaders);
        ShouldEqual(copy.RequestHeaders, original.RequestHeaders);
        ShouldEqual(copy.VaryValues, original.VaryValues);
        copy.Body.ToArray().Should().Equal(original.Body.ToArray());
        copy.RequestTime.Should().Be(original.RequestTime);
        copy.CreatedAt.Should().Be(original.CreatedAt);
        copy.ExpiresAt.Should().Be(original.ExpiresAt);
        copy.History.Should().HaveCount(2);
        copy.History[0].Should().Match<CachedRedirect>(h => h.Method == "GET" && h.Url == new Uri("https://example.com/start") && h.StatusCode == 302 && h.SetCookie.SequenceEqual(new[] { "hop=1; Path=/" }));
        copy.History[1].SetCookie.Should().BeEmpty();
        copy.AliasKeys.Should().Equal("alias-one", "alias-two");
    }

    [Test]
    public void Deserialize_MinimalResponse_RoundTrips()
    {
        var minimal = new CachedResponse { Method = "HEAD", Url = new Uri("https://example.com/"), StatusCode = HttpStatusCode.NoContent, CreatedAt = Now };

        var copy = Plain.Deserialize(Plain.Serialize(minimal, Key), Key);

        copy.Method.Should().Be("HEAD");
        copy.StatusCode.Should().Be(HttpStatusCode.NoContent);
        copy.ExpiresAt.Should().BeNull();
        copy.Body.Length.Should().Be(0);
        copy.Headers.Should().BeEmpty();
        copy.History.Should().BeEmpty();
        copy.AliasKeys.Should().BeEmpty();
    }

    [Test]
    public void Serialize_Body_IsStoredAsRawBytesNotBase64()
    {
        var body = Encoding.ASCII.GetBytes("RAW-BODY-MARKER");
        var bytes = Plain.Serialize(Sample() with { Body = body }, Key);

        bytes.AsSpan(bytes.Length - body.Length).ToArray().Should().Equal(body);
    }

    [Test]
    public void ReadMetadata_SerializedResponse_ReadsWithoutTheBody()
    {
        var bytes = Plain.Serialize(Sample(), Key);

        var metadata = Plain.ReadMetadata(bytes, Key);
        var bodyStart = bytes.Length - metadata.BodySize;

        metadata.Url.Should().Be("https://example.com/final?q=1");
        metadata.ExpiresAt.Should().Be(Now.AddHours(1));
        metadata.Aliases.Should().Equal("alias-one", "alias-two");
        (bytes.Length - bodyStart).Should().Be(6);
    }

    [Test]
    public void DeserializeVaryIndex_SerializedIndex_RoundTrips()
    {
        var index = new VaryIndex { Names = ["accept"], Variants = ["k1", "k2"], DeleteAfter = Now };

        var bytes = Plain.SerializeVaryIndex(index, Key);
        var copy = Plain.DeserializeVaryIndex(bytes, Key);

        EntrySerializer.ReadKind(bytes).Should().Be(EntryKind.VaryIndex);
        copy.Names.Should().Equal("accept");
        copy.Variants.Should().Equal("k1", "k2");
        copy.DeleteAfter.Should().Be(Now);
    }

    [Test]
    public void Deserialize_WrongMagic_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key);
        bytes[0] = (byte)'X';

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(255)]
    public void Deserialize_UnknownVersion_ThrowsCacheFormatException(byte version)
    {
        var bytes = Plain.Serialize(Sample(), Key);
        bytes[3] = version;

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().WithMessage("*version*");
    }

    [Test]
    public void Deserialize_UnknownFlags_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key);
        bytes[4] = 1;

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_UnknownKind_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key);
        bytes[5] = 7;

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_VaryIndexAsResponse_ThrowsCacheFormatException()
    {
        var bytes = Plain.SerializeVaryIndex(new VaryIndex(), Key);

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [TestCase(0)]
    [TestCase(5)]
    [TestCase(9)]
    [TestCase(20)]
    public void Deserialize_TruncatedInTheHeaderOrMetadata_ThrowsCacheFormatException(int length)
    {
        var bytes = Plain.Serialize(Sample(), Key);

        var act = () => Plain.Deserialize(bytes.AsMemory(0, length), Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_TruncatedBody_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key);

        var act = () => Plain.Deserialize(bytes.AsMemory(0, bytes.Length - 1), Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_ExtraBytes_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key).Concat(new byte[] { 1 }).ToArray();

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_CorruptMetadata_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key);
        bytes[10] = (byte)'#';

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_MetadataLengthBeyondData_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample(), Key);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(22, 4), uint.MaxValue); // version 2: metadata length at 22

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>().Which.Reason.Should().Be(RejectReason.Truncated);
    }

    [Test]
    public void Deserialize_MetadataWithoutUrl_ThrowsCacheFormatException()
    {
        var json = """{"Method":"GET","Status":200,"CreatedAt":"2030-01-01T00:00:00+00:00","BodySize":0}"""u8.ToArray();
        var bytes = new byte[10 + json.Length];
        "CHC"u8.CopyTo(bytes);
        bytes[3] = EntrySerializer.CurrentVersion;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(6, 4), (uint)json.Length);
        json.CopyTo(bytes.AsSpan(10));

        var act = () => Plain.Deserialize(bytes, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void Deserialize_RelativeUrlInMetadata_ThrowsCacheFormatException()
    {
        var bytes = Plain.Serialize(Sample() with { Url = new Uri("https://example.com/x") }, Key);
        var text = Encoding.UTF8.GetString(bytes).Replace("https://example.com/x", "not a valid url at all", StringComparison.Ordinal);
        var corrupted = Encoding.UTF8.GetBytes(text);
        BinaryPrimitives.WriteUInt32LittleEndian(corrupted.AsSpan(6, 4), (uint)(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(6, 4)) + (corrupted.Length - bytes.Length)));

        var act = () => Plain.Deserialize(corrupted, Key);

        act.Should().Throw<CacheFormatException>();
    }

    [Test]
    public void ToHttpResponseMessage_StoredResponse_BuildsAnEquivalentMessage()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com/final?q=1");

        using var message = Sample().ToHttpResponseMessage(request);

        message.StatusCode.Should().Be(HttpStatusCode.OK);
        message.ReasonPhrase.Should().Be("Fine");
        message.Version.Should().Be(HttpVersion.Version20);
        message.RequestMessage.Should().BeSameAs(request);
        message.Headers.GetValues("Set-Cookie").Should().Equal("a=1; Path=/", "b=2; Path=/");
        message.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        message.TrailingHeaders.GetValues("X-Checksum").Should().Equal("abc");
        message.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult().Should().Equal(0, 1, 2, 255, 254, 253);
    }

    [Test]
    public void CachedHeaders_Lookup_IsCaseInsensitiveAndJoinsValues()
    {
        var headers = Sample().Headers;

        headers.GetValue("set-cookie").Should().Be("a=1; Path=/, b=2; Path=/");
        headers.Contains("ETAG").Should().BeTrue();
        headers.GetValue("Missing").Should().BeNull();
        headers.Merge([new("etag", ["\"v2\""]), new("X-New", ["1"])]).GetValue("ETag").Should().Be("\"v2\"");
        headers.Without(new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "set-cookie" }).Contains("Set-Cookie").Should().BeFalse();
    }
}
