using CachedHttp.Internal;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

/// <summary>
/// Property: whatever bytes storage returns, the deserializer gives a well-formed response (one that can be served)
/// or a <see cref="CacheFormatException"/> (a miss) — no other exception, no crash, no hang. With signing or encryption
/// on, every changed bit and every truncation is rejected. Deterministic: a fixed seed, so a failure reproduces.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class DeserializerFuzzTests
{
    private const int Seed = 20_250_601;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    private static readonly (string Name, bool Authenticated, Func<EntrySerializer> Create)[] Configurations =
    [
        ("plain", false, () => Serializer()),
        ("brotli", false, () => Serializer(compression: CacheCompression.Brotli)),
        ("gzip", false, () => Serializer(compression: CacheCompression.GZip)),
        ("signed", true, () => Serializer(sign: true)),
        ("encrypted", true, () => Serializer(encrypt: true)),
        ("encrypted+gzip", true, () => Serializer(encrypt: true, compression: CacheCompression.GZip)),
        ("signed+encrypted+brotli", true, () => Serializer(sign: true, encrypt: true, compression: CacheCompression.Brotli)),
    ];

    [Test]
    public void Deserialize_RandomTruncatedAndFlippedEntries_GiveOnlyResponsesOrMisses()
    {
        var stats = new Stats();
        var run = Task.Run(() => Fuzz(stats));

        run.Wait(Limit).Should().BeTrue($"the fuzz loop must finish within {Limit} (a hang is a failure)");
        run.GetAwaiter().GetResult();

        TestContext.Out.WriteLine(stats.ToString());
        stats.Cases.Should().BeGreaterThanOrEqualTo(20_000);
        stats.AuthenticatedFlipsAccepted.Should().Be(0);
        stats.TruncationsAccepted.Should().Be(0);
    }

    private static void Fuzz(Stats stats)
    {
        var random = new Random(Seed);
        foreach (var (name, authenticated, create) in Configurations)
        {
            var serializer = create();
            foreach (var (sample, bytes) in Samples(serializer))
            {
                var expected = sample == "index" ? (object)serializer.DeserializeVaryIndex(bytes, Key) : serializer.Deserialize(bytes, Key);
                // Every truncation of a real entry.
                for (var length = 0; length < bytes.Length; length++)
                {
                    var outcome = Read(serializer, bytes.AsMemory(0, length), expected, $"{name}: {sample} truncated to {length}");
                    stats.Count(outcome, truncation: true, authenticated);
                }

                // Single-bit flips: every bit of the first 64 bytes (header, key ids, nonce), then random positions.
                var positions = Enumerable.Range(0, Math.Min(64, bytes.Length) * 8)
                    .Concat(Enumerable.Range(0, 250).Select(_ => random.Next(bytes.Length * 8)));
                foreach (var bit in positions)
                {
                    var flipped = (byte[])bytes.Clone();
                    flipped[bit / 8] ^= (byte)(1 << (bit % 8));
                    var outcome = Read(serializer, flipped, expected, $"{name}: {sample} bit {bit} flipped");
                    stats.Count(outcome, truncation: false, authenticated);
                }
            }

            // Random bytes: plain noise, noise behind a valid magic and version, noise behind a real header.
            var header = serializer.Serialize(Json(2000), Key).AsSpan(0, 60).ToArray();
            for (var i = 0; i < 1000; i++)
            {
                var noise = new byte[random.Next(0, 400)];
                random.NextBytes(noise);
                switch (i % 3)
                {
                    case 1 when noise.Length >= 4:
                        "CHC"u8.CopyTo(noise);
                        noise[3] = (byte)random.Next(1, 3);
                        if (random.Next(2) == 0 && noise.Length > 4)
                        {
                            noise[4] = 0;
                        }

                        break;
                    case 2:
                        noise = [.. header.AsSpan(0, random.Next(4, header.Length)), .. noise];
                        break;
                }

                var outcome = Read(serializer, noise, null, $"{name}: noise #{i}");
                stats.Count(outcome, truncation: false, authenticated, noise: true);
            }
        }

        // The version 1 fixture: every truncation and many flips, read by a serializer without protection.
        var plain = Serializer();
        var version1 = Convert.FromBase64String(Version1Response);
        var expectedVersion1 = plain.Deserialize(version1, Key);
        for (var length = 0; length < version1.Length; length++)
        {
            stats.Count(Read(plain, version1.AsMemory(0, length), expectedVersion1, $"v1 truncated to {length}"), truncation: true, authenticated: false);
        }

        for (var i = 0; i < 2000; i++)
        {
            var bit = random.Next(version1.Length * 8);
            var flipped = (byte[])version1.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            stats.Count(Read(plain, flipped, expectedVersion1, $"v1 bit {bit} flipped"), truncation: false, authenticated: false);
        }
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Samples(EntrySerializer serializer)
    {
        yield return ("json", serializer.Serialize(Json(2000), Key));
        yield return ("vary", serializer.Serialize(Version1Expected(), Key));
        yield return ("empty", serializer.Serialize(Version1Expected() with { Body = ReadOnlyMemory<byte>.Empty, ExpiresAt = null, History = [] }, Key));
        yield return ("binary", serializer.Serialize(Binary(300), Key));
        yield return ("index", serializer.SerializeVaryIndex(new VaryIndex { Names = ["accept"], Variants = ["a", "b"], DeleteAfter = Created }, Key));
    }

    /// <summary>Reads the bytes every way the backend does; any exception but <see cref="CacheFormatException"/> fails the test.</summary>
    private static Outcome Read(EntrySerializer serializer, ReadOnlyMemory<byte> bytes, object? expected, string description)
    {
        try
        {
            var kind = EntrySerializer.ReadKind(bytes.Span);
            EntrySerializer.ReadClearHeader(bytes.Span);
            if (kind == EntryKind.VaryIndex)
            {
                var index = serializer.DeserializeVaryIndex(bytes, Key);
                return expected is VaryIndex original && index.Names.SequenceEqual(original.Names) && index.Variants.SequenceEqual(original.Variants) && index.DeleteAfter == original.DeleteAfter
                    ? Outcome.AcceptedEqual
                    : Outcome.AcceptedDifferent;
            }

            serializer.ReadMetadata(bytes, Key);
            var response = serializer.Deserialize(bytes, Key);
            Serve(response);
            return Equal(response, expected as CachedResponse) ? Outcome.AcceptedEqual : Outcome.AcceptedDifferent;
        }
        catch (CacheFormatException)
        {
            return Outcome.Rejected;
        }
        catch (Exception ex)
        {
            throw new AssertionException($"{description}: {ex.GetType().Name} escaped the deserializer: {ex.Message}", ex);
        }
    }

    /// <summary>Does what a hit does with a response: build the message, read every header and the body, restore cookies.</summary>
    private static void Serve(CachedResponse response)
    {
        using var message = response.ToHttpResponseMessage(new HttpRequestMessage(HttpMethod.Get, "https://example.com/"));
        _ = message.Headers.ToString();
        _ = message.Content.Headers.ToString();
        _ = message.TrailingHeaders.ToString();
        _ = message.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        _ = response.IsExpired(Created);
        _ = response.HasValidators;
        var cookies = new System.Net.CookieContainer();
        foreach (var hop in response.History)
        {
            foreach (var value in hop.SetCookie)
            {
                try
                {
                    cookies.SetCookies(hop.Url, value);
                }
                catch (System.Net.CookieException)
                {
                    // The handler ignores cookies the container rejects.
                }
            }
        }
    }

    private static bool Equal(CachedResponse actual, CachedResponse? expected)
    {
        static bool Same(CachedHeaders a, CachedHeaders b)
            => a.Count == b.Count && a.Zip(b).All(p => p.First.Key == p.Second.Key && p.First.Value.SequenceEqual(p.Second.Value));

        return expected is not null
            && actual.Method == expected.Method
            && actual.Url.OriginalString == expected.Url.OriginalString
            && actual.StatusCode == expected.StatusCode
            && actual.ReasonPhrase == expected.ReasonPhrase
            && actual.Version == expected.Version
            && Same(actual.Headers, expected.Headers)
            && Same(actual.ContentHeaders, expected.ContentHeaders)
            && Same(actual.TrailingHeaders, expected.TrailingHeaders)
            && Same(actual.RequestHeaders, expected.RequestHeaders)
            && Same(actual.VaryValues, expected.VaryValues)
            && actual.RequestTime == expected.RequestTime
            && actual.CreatedAt == expected.CreatedAt
            && actual.ExpiresAt == expected.ExpiresAt
            && actual.History.Select(h => (h.Method, h.Url.OriginalString, h.StatusCode, string.Join("|", h.SetCookie)))
                .SequenceEqual(expected.History.Select(h => (h.Method, h.Url.OriginalString, h.StatusCode, string.Join("|", h.SetCookie))))
            && actual.AliasKeys.SequenceEqual(expected.AliasKeys)
            && actual.Body.Span.SequenceEqual(expected.Body.Span);
    }

    private enum Outcome
    {
        Rejected,
        AcceptedEqual,
        AcceptedDifferent,
    }

    private sealed class Stats
    {
        public int Cases { get; private set; }

        public int Rejected { get; private set; }

        public int AcceptedEqual { get; private set; }

        public int AcceptedDifferent { get; private set; }

        public int AuthenticatedFlipsAccepted { get; private set; }

        public int TruncationsAccepted { get; private set; }

        public int NoiseAccepted { get; private set; }

        public void Count(Outcome outcome, bool truncation, bool authenticated, bool noise = false)
        {
            Cases++;
            switch (outcome)
            {
                case Outcome.Rejected:
                    Rejected++;
                    return;
                case Outcome.AcceptedEqual:
                    AcceptedEqual++;
                    break;
                default:
                    AcceptedDifferent++;
                    break;
            }

            if (truncation)
            {
                TruncationsAccepted++;
            }
            else if (noise)
            {
                NoiseAccepted++;
            }
            else if (authenticated)
            {
                AuthenticatedFlipsAccepted++;
            }
        }

        public override string ToString()
            => $"{Cases} cases: {Rejected} rejected (miss), {AcceptedEqual} read back equal, {AcceptedDifferent} read back different "
                + $"(unprotected entries only: a flipped body or header byte); accepted noise {NoiseAccepted}, accepted truncations {TruncationsAccepted}, "
                + $"accepted flips of authenticated entries {AuthenticatedFlipsAccepted}.";
    }
}
