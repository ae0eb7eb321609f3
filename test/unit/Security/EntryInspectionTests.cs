using CachedHttp.Internal;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

/// <summary>
/// <see cref="EntrySerializer.Inspect"/>: metadata from the head of a stored value. Whole values are authenticated as
/// for serving; clear metadata within a partial head is read unauthenticated; anything else asks for the whole value or
/// is unreadable — never another exception.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class EntryInspectionTests
{
    private static readonly (string Name, Func<EntrySerializer> Create)[] Configurations =
    [
        ("plain", () => Serializer()),
        ("brotli", () => Serializer(compression: CacheCompression.Brotli)),
        ("signed", () => Serializer(sign: true)),
        ("encrypted", () => Serializer(encrypt: true)),
        ("signed+encrypted+gzip", () => Serializer(sign: true, encrypt: true, compression: CacheCompression.GZip)),
    ];

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    public void Inspect_WholeValue_IsAuthenticatedMetadata(bool sign, bool encrypt)
    {
        var serializer = Serializer(sign, encrypt);
        var response = Json(5000);
        var bytes = serializer.Serialize(response, Key);

        var inspection = serializer.Inspect(bytes, bytes.Length, Key);

        inspection.Status.Should().Be(InspectionStatus.Response);
        inspection.Authenticated.Should().BeTrue();
        inspection.BodyLength.Should().Be(response.Body.Length);
        inspection.Metadata!.Url.Should().EndWith("api_key=REDACTED", "URLs are stored redacted");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Inspect_ClearMetadataWithinAPartialHead_IsReadUnauthenticated(bool sign)
    {
        var serializer = Serializer(sign);
        var response = Json(50_000);
        var bytes = serializer.Serialize(response, Key);

        var inspection = serializer.Inspect(bytes.AsMemory(0, 4096), bytes.Length, Key);

        inspection.Status.Should().Be(InspectionStatus.Response);
        inspection.Authenticated.Should().BeFalse();
        inspection.BodyLength.Should().Be(response.Body.Length);
    }

    [Test]
    public void Inspect_EncryptedPartialHead_NeedsTheWholeValue()
    {
        var serializer = Serializer(encrypt: true);
        var bytes = serializer.Serialize(Json(50_000), Key);

        serializer.Inspect(bytes.AsMemory(0, 4096), bytes.Length, Key).Status.Should().Be(InspectionStatus.NeedsWholeValue);
    }

    [Test]
    public void Inspect_MetadataLongerThanTheHead_NeedsTheWholeValue()
    {
        var serializer = Serializer();
        var bytes = serializer.Serialize(Json(50_000), Key);

        serializer.Inspect(bytes.AsMemory(0, 40), bytes.Length, Key).Status.Should().Be(InspectionStatus.NeedsWholeValue);
    }

    [Test]
    public void Inspect_SizeThatDisagreesWithTheHeader_IsUnreadable()
    {
        var serializer = Serializer();
        var bytes = serializer.Serialize(Json(50_000), Key);

        var inspection = serializer.Inspect(bytes.AsMemory(0, 4096), bytes.Length - 1, Key);

        inspection.Status.Should().Be(InspectionStatus.Unreadable);
        inspection.Error.Should().NotBeNull();
    }

    [Test]
    public void Inspect_Version1Entries_AreRead()
    {
        var serializer = Serializer();
        var response = Convert.FromBase64String(Version1Response);
        var index = Convert.FromBase64String(Version1VaryIndex);

        var whole = serializer.Inspect(response, response.Length, Key);
        var partial = serializer.Inspect(response.AsMemory(0, response.Length - 1), response.Length, Key);

        whole.Status.Should().Be(InspectionStatus.Response);
        partial.Status.Should().Be(InspectionStatus.Response);
        partial.BodyLength.Should().Be(whole.BodyLength);
        serializer.Inspect(index, index.Length, Key).Index!.Variants.Should().Equal("aa", "bb");
    }

    [Test]
    public void Inspect_VaryIndex_IsRecognised()
    {
        var serializer = Serializer(sign: true);
        var bytes = serializer.SerializeVaryIndex(new VaryIndex { Names = ["accept"], Variants = ["v1", "v2"] }, Key);

        var inspection = serializer.Inspect(bytes, bytes.Length, Key);

        inspection.Status.Should().Be(InspectionStatus.VaryIndex);
        inspection.Index!.Variants.Should().Equal("v1", "v2");
    }

    [Test]
    public void Inspect_RandomTruncationsFlipsAndHeads_GiveOnlyKnownOutcomes()
    {
        var random = new Random(20_260_101);
        var cases = 0;
        foreach (var (name, create) in Configurations)
        {
            var serializer = create();
            var samples = new[]
            {
                serializer.Serialize(Json(3000), Key),
                serializer.Serialize(Json(40_000), Key),
                serializer.SerializeVaryIndex(new VaryIndex { Names = ["accept"], Variants = ["v1"] }, Key),
            };
            foreach (var sample in samples)
            {
                for (var i = 0; i < 600; i++)
                {
                    var bytes = (byte[])sample.Clone();
                    if (i % 3 == 0)
                    {
                        bytes = bytes[..random.Next(bytes.Length)];
                    }
                    else
                    {
                        var position = i % 3 == 1 ? random.Next(Math.Min(64, bytes.Length)) : random.Next(bytes.Length);
                        bytes[position] ^= (byte)(1 << random.Next(8));
                    }

                    var head = random.Next(2) == 0 ? bytes.Length : random.Next(bytes.Length + 1);
                    var size = random.Next(10) == 0 ? random.Next(bytes.Length * 2 + 1) : bytes.Length;
                    var inspection = FluentActions.Invoking(() => serializer.Inspect(bytes.AsMemory(0, head), size, Key))
                        .Should().NotThrow($"{name}, case {i}").Subject;
                    inspection.Status.Should().BeOneOf(InspectionStatus.Response, InspectionStatus.VaryIndex, InspectionStatus.NeedsWholeValue, InspectionStatus.Unreadable);
                    if (inspection.Status == InspectionStatus.Response)
                    {
                        inspection.Metadata.Should().NotBeNull();
                        inspection.BodyLength.Should().BeGreaterThanOrEqualTo(0);
                    }

                    cases++;
                }
            }
        }

        cases.Should().Be(Configurations.Length * 3 * 600);
    }
}
