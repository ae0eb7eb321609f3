using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using CachedHttp.Internal;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Export and import between backends: the format, every field, keys, expiry, damage, cancellation, progress.</summary>
[Parallelizable(ParallelScope.All)]
public class TransferTests
{
    private const string Plain = "https://example.com/plain";
    private const string Start = "https://example.com/start";
    private const string Middle = "https://example.com/middle";
    private const string Final = "https://other.example.org/final";
    private const string Varied = "https://example.com/varied";

    /// <summary>A cache with one plain response, a redirect chain (two aliases) and two Vary variants, all through the handler.</summary>
    private static async Task<TestCache> PopulatedAsync(Action<CacheOptions>? configure = null)
    {
        var stub = new StubHandler()
            .Respond(Plain, StubResponse.Json("{\"plain\":true}").WithHeader("ETag", "\"p1\"").WithHeader("Set-Cookie", "s=1; Path=/").WithHeader("X-Multi", "a").WithHeader("X-Multi", "b"))
            .Respond(Start, StubResponse.Redirect("/middle").WithHeader("Set-Cookie", "hop=1; Path=/"))
            .Respond(Middle, StubResponse.Redirect(Final, HttpStatusCode.MovedPermanently))
            .Respond(Final, StubResponse.Ok("final").WithHeader("Last-Modified", "Tue, 01 Jan 2030 00:00:00 GMT"))
            .Respond(Varied, r => StubResponse.Ok("lang " + r.Header("Accept-Language")).WithHeader("Vary", "Accept-Language").WithHeader("ETag", "\"v-" + r.Header("Accept-Language") + "\""));
        var cache = new TestCache(
            o =>
            {
                o.ExpireAfter = Expiration.After(TimeSpan.FromHours(1));
                configure?.Invoke(o);
            },
            stub,
            followRedirects: true);
        await cache.GetAsync(Plain, r => r.Headers.Add("Authorization", "Bearer secret"));
        await cache.GetAsync(Start);
        await cache.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "en"));
        await cache.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "fr"));
        return cache;
    }

    private static async Task<MemoryStream> ExportAsync(CacheBackend backend, CacheExportOptions? options = null)
    {
        var stream = new MemoryStream();
        await backend.ExportAsync(stream, options);
        stream.Position = 0;
        return stream;
    }

    private static async Task<MemoryStream> ExportPopulatedAsync()
    {
        using var source = await PopulatedAsync();
        return await ExportAsync(source.Backend);
    }

    /// <summary>Every value of both stores, decoded with the backend's own keys: key → the stored metadata JSON and body, the index, or the alias target.</summary>
    private static async Task<SortedDictionary<string, string>> DumpAsync(CacheBackend backend)
    {
        var dump = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await foreach (var entry in backend.Responses.GetEntriesAsync())
        {
            dump["response " + entry.Key] = EntrySerializer.ReadKind(entry.Value) == EntryKind.VaryIndex
                ? JsonSerializer.Serialize(backend.Serializer.DeserializeVaryIndex(entry.Value, entry.Key), StoredJsonContext.Default.VaryIndex)
                : Describe(backend.Serializer, backend.Serializer.Deserialize(entry.Value, entry.Key));
        }

        await foreach (var alias in backend.Redirects.GetEntriesAsync())
        {
            dump["alias " + alias.Key] = Encoding.UTF8.GetString(alias.Value);
        }

        return dump;
    }

    private static string Describe(EntrySerializer serializer, CachedResponse response)
        => JsonSerializer.Serialize(serializer.ToStored(response), StoredJsonContext.Default.StoredResponse) + " body " + Convert.ToHexString(response.Body.Span);

    private static async Task<List<string>> KeysAsync(BaseCache store)
    {
        var keys = new List<string>();
        await foreach (var key in store.GetKeysAsync())
        {
            keys.Add(key);
        }

        return keys;
    }

    private static Task<CacheExportFormatException> ImportFailureAsync(TestCache target, byte[] data) => ImportFailureAsync(target.Backend, data);

    private static async Task<CacheExportFormatException> ImportFailureAsync(CacheBackend target, byte[] data)
    {
        using var stream = new MemoryStream(data);
        Func<Task> import = () => target.ImportAsync(stream);
        return (await import.Should().ThrowAsync<CacheExportFormatException>()).Which;
    }

    /// <summary>The byte offsets at which each record starts (header excluded), walking the length prefixes.</summary>
    private static List<int> RecordOffsets(byte[] data)
    {
        var offsets = new List<int>();
        var offset = CacheExportFormat.HeaderSize;
        while (offset < data.Length)
        {
            offsets.Add(offset);
            offset += CacheExportFormat.RecordPrefixSize + BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 1)) + CacheExportFormat.CrcSize;
        }

        return offsets;
    }

    /// <summary>A record of any type with a correct CRC.</summary>
    private static byte[] Record(byte type, byte[] payload)
    {
        var record = new byte[CacheExportFormat.RecordPrefixSize + payload.Length + CacheExportFormat.CrcSize];
        record[0] = type;
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(1), payload.Length);
        payload.CopyTo(record, CacheExportFormat.RecordPrefixSize);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(record.Length - 4), CacheExportFormat.Crc32C(record.AsSpan(0, record.Length - 4)));
        return record;
    }

    private static byte[] EntryPayload(string key, byte[] metadata, byte[]? body = null)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var payload = new byte[4 + keyBytes.Length + 8 + 4 + metadata.Length + (body?.Length ?? 0)];
        BinaryPrimitives.WriteInt32LittleEndian(payload, keyBytes.Length);
        keyBytes.CopyTo(payload, 4);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(4 + keyBytes.Length), long.MaxValue);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(12 + keyBytes.Length), metadata.Length);
        metadata.CopyTo(payload, 16 + keyBytes.Length);
        body?.CopyTo(payload, 16 + keyBytes.Length + metadata.Length);
        return payload;
    }

    private static byte[] EndRecord(long records, long responses, long varyIndexes, long aliases)
    {
        var payload = new byte[32];
        BinaryPrimitives.WriteInt64LittleEndian(payload, records);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), responses);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(16), varyIndexes);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(24), aliases);
        return Record(0x7F, payload);
    }

    private static byte[] Header(ushort version = 1, ushort flags = 0)
    {
        var header = new byte[CacheExportFormat.HeaderSize];
        CacheExportFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), version);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), flags);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(12), TestCache.Start.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), CacheExportFormat.Crc32C(header.AsSpan(0, 20)));
        return header;
    }

    [Test]
    public void Crc32C_CheckString_IsTheCastagnoliCheckValue()
    {
        CacheExportFormat.Crc32C("123456789"u8).Should().Be(0xE3069283);
        CacheExportFormat.Crc32C(Enumerable.Repeat((byte)0, 32).ToArray()).Should().Be(0x8A9136AA, "the RFC 3720 B.4 vector of 32 zero bytes");
    }

    [Test]
    public async Task ExportAsync_Header_IsMagicVersionFlagsTimeAndCrc()
    {
        using var source = await PopulatedAsync();

        var data = (await ExportAsync(source.Backend)).ToArray();

        data.AsSpan(0, 8).ToArray().Should().Equal(0x89, 0x43, 0x48, 0x58, 0x0D, 0x0A, 0x1A, 0x0A);
        BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(8)).Should().Be(1);
        BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(10)).Should().Be(0);
        DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(12))).Should().Be(TestCache.Start);
        var types = RecordOffsets(data).Select(o => data[o]).ToList();
        types.Order().Should().Equal(1, 1, 1, 1, 2, 3, 3, 0x7F);
        types.Should().EndWith([3, 3, 0x7F], "aliases come after the responses they lead to, then the end record");
    }

    [Test]
    public async Task ExportAsync_Bodies_AreRawBytesInTheStream()
    {
        using var source = await PopulatedAsync();

        var data = (await ExportAsync(source.Backend)).ToArray();

        data.AsSpan().IndexOf("{\"plain\":true}"u8).Should().BeGreaterThan(0, "bodies are stored raw, never Base64");
        data.AsSpan().IndexOf("lang fr"u8).Should().BeGreaterThan(0);
    }

    [Test]
    public async Task ImportAsync_MemoryToMemory_RoundTripsEveryStoredValue()
    {
        using var source = await PopulatedAsync();
        using var target = new TestCache();
        var export = await ExportAsync(source.Backend);

        var result = await target.Backend.ImportAsync(export);

        result.Responses.Should().Be(4);
        result.VaryIndexes.Should().Be(1);
        result.Redirects.Should().Be(2);
        result.Skipped.Should().Be(0);
        result.ExportedAt.Should().Be(TestCache.Start);
        result.Bytes.Should().Be(export.Length);
        (await DumpAsync(target.Backend)).Should().Equal(await DumpAsync(source.Backend));
    }

    [Test]
    public async Task ImportAsync_RoundTrip_KeepsEveryFieldOfAResponse()
    {
        var original = new CachedResponse
        {
            Method = "GET",
            Url = new Uri("https://example.com/final?q=1&api_key=REDACTED"),
            StatusCode = HttpStatusCode.OK,
            ReasonPhrase = "Fine",
            Version = HttpVersion.Version20,
            Headers = new CachedHeaders([new("Set-Cookie", ["a=1; Path=/", "b=2; Path=/"]), new("ETag", ["\"v1\""]), new("Vary", ["Accept-Language"]), new("X-Empty", [])]),
            ContentHeaders = new CachedHeaders([new("Content-Type", ["application/octet-stream"]), new("Content-Length", ["6"])]),
            TrailingHeaders = new CachedHeaders([new("X-Checksum", ["abc"])]),
            RequestHeaders = new CachedHeaders([new("Accept", ["application/json", "text/plain"]), new("Authorization", ["REDACTED"])]),
            Body = new byte[] { 0, 1, 2, 255, 254, 253 },
            RequestTime = TestCache.Start.AddSeconds(-1),
            CreatedAt = TestCache.Start,
            ExpiresAt = TestCache.Start.AddHours(1),
            History = [new CachedRedirect("GET", new Uri("https://example.com/start"), 302, ["hop=1; Path=/"]), new CachedRedirect("POST", new Uri("https://example.com/middle"), 307, [])],
            VaryValues = new CachedHeaders([new("accept-language", ["en-us"])]),
            AliasKeys = ["alias-one", "alias-two"],
        };
        using var source = new TestCache();
        using var target = new TestCache();
        await source.Backend.SaveAsync("k", original, TestCache.Start.AddDays(2), CancellationToken.None);

        await target.Backend.ImportAsync(await ExportAsync(source.Backend));

        var copy = target.Backend.Serializer.Deserialize((await target.Backend.Responses.ReadAsync(VariantKeyOf(target, "k", original)))!, VariantKeyOf(target, "k", original));
        Describe(target.Backend.Serializer, copy).Should().Be(Describe(source.Backend.Serializer, original));
        copy.History.Select(h => (h.Method, h.Url.AbsoluteUri, h.StatusCode, string.Join("|", h.SetCookie)))
            .Should().Equal(("GET", "https://example.com/start", 302, "hop=1; Path=/"), ("POST", "https://example.com/middle", 307, string.Empty));
        copy.Version.Should().Be(HttpVersion.Version20);
        copy.TrailingHeaders.GetValue("X-Checksum").Should().Be("abc");
    }

    private static string VariantKeyOf(TestCache cache, string key, CachedResponse response) => CacheBackend.VariantKey(key, response.VaryValues);

    [Test]
    public async Task ImportAsync_IntoAnotherCache_ServesHitsWithoutTheNetwork()
    {
        using var source = await PopulatedAsync();
        using var target = new TestCache(o => o.ExpireAfter = Expiration.After(TimeSpan.FromHours(1)), followRedirects: true);

        await target.Backend.ImportAsync(await ExportAsync(source.Backend));

        var (plain, plainBody) = await target.GetAsync(Plain, r => r.Headers.Add("Authorization", "Bearer secret"));
        plainBody.Should().Be("{\"plain\":true}");
        plain.Headers.GetValues("X-Multi").Should().Equal("a", "b");
        (await target.GetAsync(Start)).Body.Should().Be("final");
        (await target.GetAsync(Middle)).Body.Should().Be("final");
        (await target.GetAsync(Final)).Body.Should().Be("final");
        (await target.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "fr"))).Body.Should().Be("lang fr");
        var (english, body) = await target.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "en"));
        body.Should().Be("lang en");
        english.IsFromCache().Should().BeTrue();
        target.Stub.TotalCalls.Should().Be(0);
    }

    [Test]
    public async Task ImportAsync_RedirectHit_RestoresTheCookiesOfEveryHop()
    {
        using var source = await PopulatedAsync();
        using var target = new TestCache(stub: new StubHandler().WithCookieContainer(), followRedirects: true);
        await target.Backend.ImportAsync(await ExportAsync(source.Backend));

        var (response, _) = await target.GetAsync(Start);

        response.IsFromCache().Should().BeTrue();
        target.Stub.Cookies!.GetCookies(new Uri(Start)).Select(c => c.Name).Should().Contain("hop");
    }

    [Test]
    public async Task ImportAsync_SignedSourceIntoEncryptedTargetWithOtherKeys_ReencodesWithTheTargetsKeys()
    {
        var sharedCredentialKey = Security.SecurityTestData.NewKey(32, 99);
        using var source = await PopulatedAsync(o =>
        {
            o.Serializer.SigningKeys.Add(Security.SecurityTestData.NewKey(32, 1));
            o.Serializer.Compression = CacheCompression.Brotli;
            o.Serializer.CompressionThreshold = 0;
            o.CredentialKey = sharedCredentialKey;
        });
        using var target = new TestCache(
            o =>
            {
                o.Serializer.EncryptionKeys.Add(Security.SecurityTestData.NewKey(32, 2));
                o.CredentialKey = sharedCredentialKey;
            },
            followRedirects: true);

        await target.Backend.ImportAsync(await ExportAsync(source.Backend));

        await foreach (var entry in target.Backend.Responses.GetEntriesAsync())
        {
            var flags = EntrySerializer.ReadClearHeader(entry.Value).Flags;
            flags.Should().HaveFlag(EntrySerializer.EntryFlags.Encrypted).And.NotHaveFlag(EntrySerializer.EntryFlags.Signed);
            FluentActions.Invoking(() => source.Backend.Serializer.ReadMetadata(entry.Value, entry.Key)).Should().Throw<CacheFormatException>("the source's key cannot read the target's entries");
        }

        (await DumpAsync(target.Backend)).Should().Equal(await DumpAsync(source.Backend));
        (await target.GetAsync(Plain, r => r.Headers.Add("Authorization", "Bearer secret"))).Response.IsFromCache().Should().BeTrue("the credential key is shared");
        (await target.GetAsync(Start)).Response.IsFromCache().Should().BeTrue();
        target.Stub.TotalCalls.Should().Be(0);
    }

    [Test]
    public async Task ImportAsync_OtherCredentialKey_FindsAnonymousEntriesOnly()
    {
        using var source = await PopulatedAsync(o => o.Serializer.SigningKeys.Add(Security.SecurityTestData.NewKey(32, 1)));
        using var target = new TestCache(o => o.Serializer.SigningKeys.Add(Security.SecurityTestData.NewKey(32, 3)), followRedirects: true);
        await target.Backend.ImportAsync(await ExportAsync(source.Backend));

        (await target.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "en"))).Response.IsFromCache().Should().BeTrue();
        (await target.GetAsync(Plain, r => r.Headers.Add("Authorization", "Bearer secret"))).Response.IsFromCache()
            .Should().BeFalse("a key with credentials is a keyed hash with the credential key, derived from the signing key by default");
    }

    [Test]
    public async Task ExportAsync_ExpiredResponses_AreLeftOutByDefault_AndKeptWithIncludeExpired()
    {
        using var source = await PopulatedAsync(o => o.UrlsExpireAfter["example.com/varied"] = Expiration.After(TimeSpan.FromMinutes(1)));
        source.Time.Advance(TimeSpan.FromMinutes(2));

        var fresh = await source.Backend.ExportAsync(new MemoryStream());
        var all = await source.Backend.ExportAsync(new MemoryStream(), new CacheExportOptions { IncludeExpired = true });

        fresh.Responses.Should().Be(2);
        fresh.SkippedExpired.Should().Be(2);
        fresh.VaryIndexes.Should().Be(1, "an index lives until its delete-after time");
        all.Responses.Should().Be(4);
        all.SkippedExpired.Should().Be(0);
    }

    [Test]
    public async Task ExportAsync_AliasOfAnExpiredResponse_IsLeftOutWithIt()
    {
        using var source = await PopulatedAsync(o => o.ExpireAfter = Expiration.After(TimeSpan.FromMinutes(1)));
        source.Time.Advance(TimeSpan.FromMinutes(2));

        var result = await source.Backend.ExportAsync(new MemoryStream());

        result.Responses.Should().Be(0);
        result.Redirects.Should().Be(0);
        result.SkippedExpired.Should().Be(6, "four responses (kept for revalidation: each has a validator) and the two aliases of one");
    }

    [Test]
    public async Task ExportAsync_ValuesPastTheirDeleteAfterTime_AreNeverExported()
    {
        using var source = new TestCache();
        var response = new CachedResponse { Method = "GET", Url = new Uri(Plain), StatusCode = HttpStatusCode.OK, CreatedAt = TestCache.Start, ExpiresAt = TestCache.Start.AddMinutes(1) };
        await source.Backend.SaveResponseAsync(response);
        source.Time.Advance(TimeSpan.FromMinutes(2));

        var result = await source.Backend.ExportAsync(new MemoryStream(), new CacheExportOptions { IncludeExpired = true });

        result.Responses.Should().Be(0);
    }

    [Test]
    public async Task ImportAsync_ExportFromThePast_LeavesOutWhatHasSinceDied()
    {
        using var source = new TestCache();
        await source.Backend.SaveResponseAsync(new CachedResponse { Method = "GET", Url = new Uri(Plain), StatusCode = HttpStatusCode.OK, CreatedAt = TestCache.Start, ExpiresAt = TestCache.Start.AddMinutes(1) });
        await source.Backend.SaveResponseAsync(new CachedResponse { Method = "GET", Url = new Uri(Final), StatusCode = HttpStatusCode.OK, CreatedAt = TestCache.Start, ExpiresAt = TestCache.Start.AddDays(1) });
        var export = await ExportAsync(source.Backend);
        using var target = new TestCache();
        target.Time.Advance(TimeSpan.FromHours(1));

        var result = await target.Backend.ImportAsync(export);

        result.Responses.Should().Be(1);
        result.SkippedExpired.Should().Be(1);
        (await target.Backend.HasUrlAsync(Final)).Should().BeTrue();
    }

    [Test]
    public async Task ImportAsync_ExistingKey_IsOverwrittenByDefault_AndKeptWithSkipExisting()
    {
        using var source = new TestCache();
        await source.Backend.SaveResponseAsync(new CachedResponse { Method = "GET", Url = new Uri(Plain), StatusCode = HttpStatusCode.OK, CreatedAt = TestCache.Start, Body = "imported"u8.ToArray() });
        using var kept = new TestCache();
        using var replaced = new TestCache();
        foreach (var target in new[] { kept, replaced })
        {
            await target.Backend.SaveResponseAsync(new CachedResponse { Method = "GET", Url = new Uri(Plain), StatusCode = HttpStatusCode.OK, CreatedAt = TestCache.Start, Body = "existing"u8.ToArray() });
        }

        var skipped = await kept.Backend.ImportAsync(await ExportAsync(source.Backend), new CacheImportOptions { SkipExisting = true });
        var overwritten = await replaced.Backend.ImportAsync(await ExportAsync(source.Backend));

        skipped.SkippedExisting.Should().Be(1);
        skipped.Responses.Should().Be(0);
        overwritten.Responses.Should().Be(1);
        Encoding.UTF8.GetString((await kept.Backend.GetResponseAsync(kept.KeyOf(Plain)))!.Body.Span).Should().Be("existing");
        Encoding.UTF8.GetString((await replaced.Backend.GetResponseAsync(replaced.KeyOf(Plain)))!.Body.Span).Should().Be("imported");
    }

    [Test]
    public async Task ImportAsync_VaryIndexOfAUrlTheTargetHas_IsMergedSoBothVariantsServe()
    {
        using var source = await PopulatedAsync();
        var stub = new StubHandler().Respond(Varied, r => StubResponse.Ok("target " + r.Header("Accept-Language")).WithHeader("Vary", "Accept-Language"));
        using var target = new TestCache(o => o.ExpireAfter = Expiration.After(TimeSpan.FromHours(1)), stub);
        await target.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "de"));

        await target.Backend.ImportAsync(await ExportAsync(source.Backend), new CacheImportOptions { SkipExisting = true });

        (await target.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "de"))).Body.Should().Be("target de");
        (await target.GetAsync(Varied, r => r.Headers.Add("Accept-Language", "fr"))).Body.Should().Be("lang fr");
        stub.CallCount(Varied).Should().Be(1);
        var index = target.Backend.Serializer.DeserializeVaryIndex((await target.Backend.Responses.ReadAsync(target.KeyOf(Varied)))!, target.KeyOf(Varied));
        index.Variants.Should().HaveCount(3);
    }

    [Test]
    public async Task ExportAsync_UnreadableStoredValue_IsLeftOutAndCounted()
    {
        using var source = await PopulatedAsync();
        await source.Backend.Responses.WriteAsync("garbage", "not an entry"u8.ToArray());
        await source.Backend.Redirects.WriteAsync("dangling", "no-such-key"u8.ToArray());

        var result = await source.Backend.ExportAsync(new MemoryStream());

        result.SkippedUnreadable.Should().Be(2);
        result.Responses.Should().Be(4);
    }

    [Test]
    public async Task ExportAsync_EntriesOfAnotherKey_AreUnreadableAndLeftOut()
    {
        using var source = await PopulatedAsync(o => o.Serializer.SigningKeys.Add(Security.SecurityTestData.NewKey(32, 1)));
        using var wrongKey = new TestCache(o => o.Serializer.SigningKeys.Add(Security.SecurityTestData.NewKey(32, 2)), backend: o => new CacheBackend(source.Backend.Responses, source.Backend.Redirects, o));

        var result = await wrongKey.Backend.ExportAsync(new MemoryStream());

        result.Entries.Should().Be(0);
        result.SkippedUnreadable.Should().Be(7);
    }

    [Test]
    public async Task ExportAsync_Compress_WritesGZipThatImportRecognizes()
    {
        using var source = await PopulatedAsync();
        using var target = new TestCache();

        var export = await ExportAsync(source.Backend, new CacheExportOptions { Compress = true });
        var result = await target.Backend.ImportAsync(new MemoryStream(export.ToArray()));

        export.ToArray().AsSpan(0, 2).ToArray().Should().Equal(0x1F, 0x8B);
        result.Entries.Should().Be(7);
        (await DumpAsync(target.Backend)).Should().Equal(await DumpAsync(source.Backend));
    }

    [Test]
    public async Task ImportAsync_TruncatedAnywhere_ThrowsATypedErrorAndKeepsTheCompleteRecordsBefore()
    {
        var data = (await ExportPopulatedAsync()).ToArray();
        var offsets = RecordOffsets(data);
        for (var length = 0; length < data.Length; length += length < 64 ? 1 : 7)
        {
            using var target = new TestCache();
            var error = await ImportFailureAsync(target, data[..length]);

            error.Error.Should().BeOneOf(CacheExportFormatError.Truncated, CacheExportFormatError.NotAnExport);
            var completeRecords = offsets.Count(o => o < length && RecordEnd(data, o) <= length);
            if (length >= CacheExportFormat.HeaderSize)
            {
                error.Error.Should().Be(CacheExportFormatError.Truncated, $"cut at {length}");
                error.Progress!.Entries.Should().Be(completeRecords, $"cut at {length}");
                error.RecordNumber.Should().Be(completeRecords + 1);
                (await target.Backend.Responses.CountAsync() + await target.Backend.Redirects.CountAsync()).Should().Be(completeRecords);
            }
        }
    }

    private static int RecordEnd(byte[] data, int offset)
        => offset + CacheExportFormat.RecordPrefixSize + BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 1)) + CacheExportFormat.CrcSize;

    [Test]
    public async Task ImportAsync_WithoutItsEndRecord_IsTruncated()
    {
        var data = (await ExportPopulatedAsync()).ToArray();
        var end = RecordOffsets(data)[^1];
        using var target = new TestCache();

        var error = await ImportFailureAsync(target, data[..end]);

        error.Error.Should().Be(CacheExportFormatError.Truncated);
        error.Message.Should().Contain("ends after record 7");
        error.Progress!.Entries.Should().Be(7, "every record before the missing end was imported");
    }

    [Test]
    public async Task ImportAsync_RecordRemovedFromTheMiddle_IsDetectedByTheEndCounts()
    {
        var data = (await ExportPopulatedAsync()).ToArray();
        var offsets = RecordOffsets(data);
        var damaged = data[..offsets[2]].Concat(data[offsets[3]..]).ToArray();
        using var target = new TestCache();

        var error = await ImportFailureAsync(target, damaged);

        error.Error.Should().Be(CacheExportFormatError.Truncated);
        error.Message.Should().Contain("end record counts 7 records");
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(40)]
    public async Task ImportAsync_ByteChangedInRecordThree_NamesRecordThreeAfterImportingTwo(int offsetInRecord)
    {
        var data = (await ExportPopulatedAsync()).ToArray();
        data[RecordOffsets(data)[2] + offsetInRecord] ^= 0x20;
        using var target = new TestCache();

        var error = await ImportFailureAsync(target, data);

        error.Error.Should().BeOneOf(CacheExportFormatError.Corrupt, CacheExportFormatError.Truncated);
        error.RecordNumber.Should().Be(3);
        error.Message.Should().ContainEquivalentOf("record 3").And.ContainAny("damaged", "truncated");
        error.Progress!.Entries.Should().Be(2);
        (await target.Backend.Responses.CountAsync()).Should().Be(2);
    }

    [Test]
    public async Task ImportAsync_ByteChangedInABody_IsACorruptRecord()
    {
        var data = (await ExportPopulatedAsync()).ToArray();
        var at = data.AsSpan().IndexOf("lang fr"u8);
        data[at] = (byte)'L';
        using var target = new TestCache();

        var error = await ImportFailureAsync(target, data);

        error.Error.Should().Be(CacheExportFormatError.Corrupt);
        error.Message.Should().Contain("checksum mismatch");
    }

    [Test]
    public async Task ImportAsync_ValidChecksumButInvalidEntry_IsCorruptNamingTheRecord()
    {
        var data = Header().Concat(Record(1, EntryPayload("k", "{\"Method\":\"GET\"}"u8.ToArray()))).Concat(EndRecord(1, 1, 0, 0)).ToArray();
        using var target = new TestCache();

        var error = await ImportFailureAsync(target, data);

        error.Error.Should().Be(CacheExportFormatError.Corrupt);
        error.RecordNumber.Should().Be(1);
        error.Message.Should().Contain("Record 1").And.Contain("not a valid entry");
    }

    [Test]
    public async Task ImportAsync_HandBuiltExport_ImportsAsDocumented()
    {
        var metadata = Encoding.UTF8.GetBytes("{\"Method\":\"GET\",\"Url\":\"https://example.com/plain\",\"Status\":200,\"CreatedAt\":\"2030-01-01T12:00:00+00:00\",\"BodySize\":5}");
        var data = Header()
            .Concat(Record(0x40, [1, 2, 3]))
            .Concat(Record(1, EntryPayload("k", metadata, "hello"u8.ToArray())))
            .Concat(Record(3, EntryPayload("alias", "k"u8.ToArray())))
            .Concat(EndRecord(3, 1, 0, 1))
            .ToArray();
        using var target = new TestCache();

        var result = await target.Backend.ImportAsync(new MemoryStream(data));

        result.Responses.Should().Be(1);
        result.Redirects.Should().Be(1);
        Encoding.UTF8.GetString((await target.Backend.GetResponseAsync("alias"))!.Body.Span).Should().Be("hello");
    }

    [Test]
    public async Task ImportAsync_UnknownRecordTypeOutsideTheOptionalRange_IsCorrupt()
    {
        var data = Header().Concat(Record(0x10, [1])).Concat(EndRecord(1, 0, 0, 0)).ToArray();

        var error = await ImportFailureAsync(new TestCache().Backend, data);

        error.Error.Should().Be(CacheExportFormatError.Corrupt);
        error.Message.Should().Contain("unknown record type 0x10");
    }

    [Test]
    public async Task ImportAsync_DataAfterTheEndRecord_IsCorrupt()
    {
        var data = (await ExportPopulatedAsync()).ToArray().Append((byte)0).ToArray();

        var error = await ImportFailureAsync(new TestCache().Backend, data);

        error.Error.Should().Be(CacheExportFormatError.Corrupt);
        error.Message.Should().Contain("after its end record");
    }

    [Test]
    public async Task ImportAsync_NewerFormatVersion_ThrowsUnsupportedVersionBeforeReadingFurther()
    {
        var data = Header(version: 2).Concat(new byte[] { 0xFF, 0xFF }).ToArray();

        var error = await ImportFailureAsync(new TestCache().Backend, data);

        error.Error.Should().Be(CacheExportFormatError.UnsupportedVersion);
        error.FormatVersion.Should().Be(2);
        error.RecordNumber.Should().BeNull();
        error.Message.Should().Contain("version 2").And.Contain("newer CachedHttp");
    }

    [Test]
    public async Task ImportAsync_UnknownFlags_ThrowsUnsupportedVersion()
    {
        var error = await ImportFailureAsync(new TestCache().Backend, Header(flags: 1).Concat(EndRecord(0, 0, 0, 0)).ToArray());

        error.Error.Should().Be(CacheExportFormatError.UnsupportedVersion);
    }

    [Test]
    public async Task ImportAsync_DamagedHeader_IsCorrupt()
    {
        var data = Header().Concat(EndRecord(0, 0, 0, 0)).ToArray();
        data[15] ^= 1;

        var error = await ImportFailureAsync(new TestCache().Backend, data);

        error.Error.Should().Be(CacheExportFormatError.Corrupt);
        error.RecordNumber.Should().BeNull();
    }

    [TestCase("")]
    [TestCase("{\"not\":\"an export\"}")]
    [TestCase("CHC")]
    public async Task ImportAsync_NotAnExport_SaysSo(string content)
    {
        var error = await ImportFailureAsync(new TestCache().Backend, Encoding.UTF8.GetBytes(content));

        error.Error.Should().Be(CacheExportFormatError.NotAnExport);
        error.Message.Should().Contain("not a CachedHttp export");
    }

    [Test]
    public async Task ImportAsync_DamagedGZip_ThrowsATypedError()
    {
        using var source = await PopulatedAsync();
        var data = (await ExportAsync(source.Backend, new CacheExportOptions { Compress = true })).ToArray();
        data[data.Length / 2] ^= 0xFF;
        data[(data.Length / 2) + 1] ^= 0xFF;

        var error = await ImportFailureAsync(new TestCache().Backend, data);

        error.Error.Should().BeOneOf(CacheExportFormatError.Corrupt, CacheExportFormatError.Truncated);
    }

    [Test]
    public async Task ImportAsync_EmptyCacheExport_ImportsNothing()
    {
        using var empty = new TestCache();
        var export = await ExportAsync(empty.Backend);

        var result = await new TestCache().Backend.ImportAsync(export);

        export.Length.Should().Be(CacheExportFormat.HeaderSize + CacheExportFormat.RecordPrefixSize + 32 + 4);
        result.Entries.Should().Be(0);
    }

    [Test]
    public async Task ExportAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var source = await PopulatedAsync();
        using var cancellation = new CancellationTokenSource();
        var progress = new SyncProgress(_ => cancellation.Cancel());

        Func<Task> export = () => source.Backend.ExportAsync(new MemoryStream(), new CacheExportOptions { ProgressInterval = TimeSpan.Zero }, progress, cancellation.Token);

        await export.Should().ThrowAsync<OperationCanceledException>();
        progress.Reports.Should().HaveCount(1);
    }

    [Test]
    public async Task ImportAsync_Cancelled_StopsAndKeepsWhatWasImported()
    {
        var export = await ExportPopulatedAsync();
        using var target = new TestCache();
        using var cancellation = new CancellationTokenSource();
        var progress = new SyncProgress(p =>
        {
            if (p.Entries == 2)
            {
                cancellation.Cancel();
            }
        });

        Func<Task> import = () => target.Backend.ImportAsync(export, new CacheImportOptions { ProgressInterval = TimeSpan.Zero }, progress, cancellation.Token);

        await import.Should().ThrowAsync<OperationCanceledException>();
        (await target.Backend.Responses.CountAsync()).Should().Be(2);
    }

    [Test]
    public async Task ExportAsync_Progress_IsMonotonicAndEndsWithTheResult()
    {
        using var source = await PopulatedAsync();
        var progress = new SyncProgress();
        var stream = new MemoryStream();

        var result = await source.Backend.ExportAsync(stream, new CacheExportOptions { ProgressInterval = TimeSpan.Zero }, progress);

        progress.Reports.Should().HaveCount(8, "one per stored value and a final one");
        progress.Reports.Select(p => p.Entries).Should().BeInAscendingOrder();
        progress.Reports.Select(p => p.Bytes).Should().BeInAscendingOrder();
        progress.Reports[^1].Should().Be(result);
        result.Bytes.Should().Be(stream.Length);
    }

    [Test]
    public async Task ImportAsync_Progress_IsMonotonicAndEndsWithTheResult()
    {
        var export = await ExportPopulatedAsync();
        var progress = new SyncProgress();

        var result = await new TestCache().Backend.ImportAsync(export, new CacheImportOptions { ProgressInterval = TimeSpan.Zero }, progress);

        progress.Reports.Select(p => p.Entries).Should().Equal(1, 2, 3, 4, 5, 6, 7, 7);
        progress.Reports.Select(p => p.Bytes).Should().BeInAscendingOrder();
        progress.Reports[^1].Should().BeSameAs(result);
        result.Bytes.Should().Be(export.Length);
    }

    [Test]
    public async Task ExportAsync_ProgressInterval_ThrottlesReportsByTheBackendsClock()
    {
        using var source = await PopulatedAsync();
        var progress = new SyncProgress();

        await source.Backend.ExportAsync(new MemoryStream(), new CacheExportOptions { ProgressInterval = TimeSpan.FromSeconds(1) }, progress);

        progress.Reports.Should().HaveCount(1, "the fake clock does not move: only the final report");
    }

    [Test]
    public async Task ExportAsync_NegativeProgressInterval_ThrowsNamingTheOption()
    {
        using var source = new TestCache();

        Func<Task> export = () => source.Backend.ExportAsync(new MemoryStream(), new CacheExportOptions { ProgressInterval = TimeSpan.FromSeconds(-1) });

        (await export.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("CacheExportOptions.ProgressInterval");
    }

    [Test]
    public async Task ExportAsync_ReadOnlyStream_ThrowsArgumentException()
    {
        using var source = new TestCache();

        Func<Task> export = () => source.Backend.ExportAsync(new MemoryStream([], writable: false));

        await export.Should().ThrowAsync<ArgumentException>();
    }

    [Test]
    public async Task ExportAsync_WritesEachEntryBeforeReadingTheNext()
    {
        var destination = new MemoryStream();
        var store = new ObservedStore(() => destination.Length);
        using var source = new TestCache(backend: o => new CacheBackend(store, new InMemoryCache(o.TimeProvider), o));
        for (var i = 0; i < 5; i++)
        {
            await source.Backend.SaveResponseAsync(new CachedResponse { Method = "GET", Url = new Uri(Plain + i), StatusCode = HttpStatusCode.OK, CreatedAt = TestCache.Start, Body = new byte[1000] });
        }

        await source.Backend.ExportAsync(destination);

        store.LengthsBeforeEachEntry.Should().HaveCount(5);
        store.LengthsBeforeEachEntry.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems("each entry is written out before the next is read");
    }

    [Test]
    public async Task ImportAsync_WritesEachEntryBeforeReadingTheRest()
    {
        var data = (await ExportPopulatedAsync()).ToArray();
        var source = new MemoryStream(data);
        var positions = new List<long>();
        var store = new WriteObservingStore(() => positions.Add(source.Position));
        using var target = new TestCache(backend: o => new CacheBackend(store, store, o));

        await target.Backend.ImportAsync(source);

        positions.Should().HaveCount(7);
        positions.Should().OnlyContain(p => p < data.Length, "nothing reads the whole export first");
        positions.Should().BeInAscendingOrder();
    }

    /// <summary>Reports synchronously, in order (a <see cref="Progress{T}"/> would post them).</summary>
    private sealed class SyncProgress(Action<CacheTransferProgress>? onReport = null) : IProgress<CacheTransferProgress>
    {
        public List<CacheTransferProgress> Reports { get; } = [];

        public void Report(CacheTransferProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    /// <summary>An in-memory store that notes the destination's length each time the export takes the next entry.</summary>
    private sealed class ObservedStore(Func<long> length) : InMemoryCache
    {
        public List<long> LengthsBeforeEachEntry { get; } = [];

        public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var entry in base.GetEntriesAsync(cancellationToken))
            {
                LengthsBeforeEachEntry.Add(length());
                yield return entry;
            }
        }
    }

    /// <summary>An in-memory store that calls back on every write (one instance serves as both stores: test keys do not collide).</summary>
    private sealed class WriteObservingStore(Action onWrite) : InMemoryCache
    {
        public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
        {
            onWrite();
            return base.WriteAsync(key, value, deleteAfter, cancellationToken);
        }
    }
}
