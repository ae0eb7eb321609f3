using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace CachedHttp.CrashWriter;

/// <summary>
/// What CrashWriter writes and the crash tests verify, compiled into both so that the two cannot drift: entry
/// <c>i</c> of generation <c>g</c> is a GET response for <see cref="Url"/> whose body is <see cref="BodyLength"/>
/// deterministic bytes derived from <c>(i, g)</c>, with the index, the generation and the body's SHA-256 in headers.
/// </summary>
internal static class CrashEntries
{
    /// <summary>How many distinct URLs the writer cycles through, so that entries are overwritten as well as created.</summary>
    public const int KeySpace = 300;

    /// <summary>Every this-many generations, an entry also gets a redirect alias (<see cref="AliasUrl"/>).</summary>
    public const int AliasEvery = 5;

    public const string IndexHeader = "X-Entry-Index";
    public const string GenerationHeader = "X-Entry-Generation";
    public const string ChecksumHeader = "X-Body-Sha256";

    private const string Host = "https://crash.cachedhttp.test/";
    private const int MaxBodyLength = 2048 * 1024;

    /// <summary>8 MiB of xorshift64 bytes from a fixed seed, from which every body is cut.</summary>
    private static readonly byte[] Pool = CreatePool(8 * 1024 * 1024);

    public static Uri Url(int index) => new(Host + "entry/" + index.ToString(CultureInfo.InvariantCulture));

    public static Uri AliasUrl(int index) => new(Host + "alias/" + index.ToString(CultureInfo.InvariantCulture));

    /// <summary>The index of an entry URL, or -1.</summary>
    public static int IndexOf(Uri url)
    {
        var text = url.AbsoluteUri;
        const string Prefix = Host + "entry/";
        return text.StartsWith(Prefix, StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            ? index
            : -1;
    }

    /// <summary>The generation of the <paramref name="sequence"/>-th write of writer run <paramref name="run"/>: unique across runs.</summary>
    public static long Generation(int run, long sequence) => (run * 100_000_000L) + sequence;

    /// <summary>The run that wrote a generation.</summary>
    public static int RunOf(long generation) => (int)(generation / 100_000_000L);

    /// <summary>The index written by the <paramref name="sequence"/>-th write of a run (each run starts elsewhere).</summary>
    public static int IndexFor(int run, long sequence) => (int)((sequence + (run * 37L)) % KeySpace);

    /// <summary>Body lengths from 0 B to 2 MiB: 5 % empty, 55 % under 16 KiB, 30 % under 256 KiB, 10 % from 256 KiB to 2 MiB.</summary>
    public static int BodyLength(int index, long generation)
    {
        var r = Mix(index, generation);
        var size = r >> 16;
        return (r % 20) switch
        {
            0 => 0,
            < 12 => (int)(size % (16 * 1024)),
            < 18 => (int)(size % (256 * 1024)),
            _ => (256 * 1024) + (int)(size % (ulong)(MaxBodyLength - (256 * 1024))),
        };
    }

    /// <summary>One entry in eight is written already expired: expired values are among what a crash leaves behind.</summary>
    public static bool IsExpired(int index, long generation) => Mix(index, generation ^ 0x5A5A) % 8 == 0;

    public static bool HasAlias(long generation) => generation % AliasEvery == 0;

    /// <summary>
    /// The body of an entry: <paramref name="length"/> bytes of a fixed pseudo-random pool from an offset derived from
    /// the index and generation (cheap to produce, so the writer spends its time writing).
    /// </summary>
    public static ReadOnlyMemory<byte> Body(int index, long generation, int length)
    {
        var offset = (int)((Mix(index, ~generation) >> 16) % (ulong)(Pool.Length - MaxBodyLength + 1));
        return Pool.AsMemory(offset, length);
    }

    /// <summary>The response of entry <paramref name="index"/> at <paramref name="generation"/>.</summary>
    public static CachedResponse Create(int index, long generation, DateTimeOffset now, IReadOnlyList<string> aliasKeys)
    {
        var length = BodyLength(index, generation);
        var body = Body(index, generation, length);
        return new CachedResponse
        {
            Method = "GET",
            Url = Url(index),
            StatusCode = HttpStatusCode.OK,
            Headers = new CachedHeaders(
            [
                new(IndexHeader, [index.ToString(CultureInfo.InvariantCulture)]),
                new(GenerationHeader, [generation.ToString(CultureInfo.InvariantCulture)]),
                new(ChecksumHeader, [Convert.ToHexStringLower(SHA256.HashData(body.Span))]),
            ]),
            ContentHeaders = new CachedHeaders(
            [
                new("Content-Type", ["application/octet-stream"]),
                new("Content-Length", [length.ToString(CultureInfo.InvariantCulture)]),
            ]),
            Body = body,
            RequestTime = now,
            CreatedAt = now,
            ExpiresAt = IsExpired(index, generation) ? now.AddSeconds(-1) : null,
            AliasKeys = aliasKeys,
        };
    }

    /// <summary>
    /// Checks a response read back: its headers name an entry, its body has the length and SHA-256 they announce, and
    /// it is the very body that entry's index and generation derive. Returns the generation, or throws
    /// <see cref="InvalidDataException"/> naming what is wrong.
    /// </summary>
    public static long Verify(CachedResponse response, int expectedIndex)
    {
        ArgumentNullException.ThrowIfNull(response);
        var where = $"entry {expectedIndex} ({response.Url})";
        if (!int.TryParse(response.Headers.GetValue(IndexHeader), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || !long.TryParse(response.Headers.GetValue(GenerationHeader), NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            || response.Headers.GetValue(ChecksumHeader) is not { Length: 64 } checksum)
        {
            throw new InvalidDataException($"{where}: the entry headers are missing or malformed.");
        }

        if (index != expectedIndex || IndexOf(response.Url) != expectedIndex)
        {
            throw new InvalidDataException($"{where}: holds entry {index} of URL {response.Url}.");
        }

        var body = response.Body.Span;
        var length = BodyLength(index, generation);
        if (body.Length != length || response.ContentHeaders.GetValue("Content-Length") != length.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"{where}: generation {generation} has a body of {body.Length} bytes, not {length}.");
        }

        if (!Convert.ToHexStringLower(SHA256.HashData(body)).Equals(checksum, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{where}: generation {generation} has a body whose SHA-256 differs from its header (torn entry).");
        }

        if (!body.SequenceEqual(Body(index, generation, length).Span))
        {
            throw new InvalidDataException($"{where}: generation {generation} has a self-consistent body that is not the one its key derives.");
        }

        return generation;
    }

    private static byte[] CreatePool(int length)
    {
        var pool = new byte[length];
        var state = 0x2545F4914F6CDD1DUL;
        for (var offset = 0; offset < pool.Length; offset += 8)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(pool.AsSpan(offset), state);
        }

        return pool;
    }

    /// <summary>SplitMix64 of the index and generation.</summary>
    private static ulong Mix(int index, long generation)
    {
        var z = ((ulong)(uint)index << 40) ^ (ulong)generation ^ 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
