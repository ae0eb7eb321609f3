using System.Net;
using System.Security.Cryptography;
using CachedHttp.Internal;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Bodies over <see cref="CacheOptions.StreamingThreshold"/>: stored while the caller reads them, served from storage.</summary>
[Parallelizable(ParallelScope.All)]
public class StreamingTests
{
    private const string Url = "https://example.com/large";
    private const int Threshold = 1024;

    private static readonly byte[] Large = RandomNumberGenerator.GetBytes(100_000);

    private static TestCache Cache(Action<CacheOptions>? configure = null, StreamingStore? store = null)
    {
        store ??= new StreamingStore();
        return new TestCache(
            o =>
            {
                o.StreamingThreshold = Threshold;
                configure?.Invoke(o);
            },
            backend: o => new CacheBackend(store, new InMemoryCache(o.TimeProvider), o));
    }

    private static async Task<byte[]> GetBytesAsync(TestCache cache, string url = Url)
    {
        using var response = await cache.Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static byte Flags(StreamingStore store, TestCache cache) => store.Raw(cache.KeyOf(Url))![4];

    [Test]
    public async Task Miss_KnownLengthOverThreshold_IsStreamedAndServedFromStorage()
    {
        var store = new StreamingStore();
        using var cache = Cache(store: store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));

        (await GetBytesAsync(cache)).Should().Equal(Large);
        var hit = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);
        var body = await hit.Content.ReadAsByteArrayAsync();

        body.Should().Equal(Large);
        hit.GetCacheInfo().Status.Should().Be(CacheStatus.Hit);
        hit.Content.Headers.ContentLength.Should().Be(Large.Length);
        cache.Stub.CallCount(Url).Should().Be(1);
        store.StreamedWrites.Should().Be(1);
        (Flags(store, cache) & 0x10).Should().Be(0x10);
    }

    [Test]
    public async Task Miss_UnknownLength_IsStreamedOnceItPassesTheThreshold()
    {
        var store = new StreamingStore();
        using var cache = Cache(store: store);
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new MemoryStream(Large), contentLength: null).WithContentType("application/octet-stream"));
        cache.Stub.Respond(Url + "/small", StubResponse.Ok().WithStream(() => new MemoryStream(Large[..100]), contentLength: null));

        (await GetBytesAsync(cache)).Should().Equal(Large);
        (await GetBytesAsync(cache, Url + "/small")).Should().Equal(Large[..100]);

        (await GetBytesAsync(cache)).Should().Equal(Large);
        (await GetBytesAsync(cache, Url + "/small")).Should().Equal(Large[..100]);
        cache.Stub.TotalCalls.Should().Be(2);
        store.StreamedWrites.Should().Be(1);
    }

    [Test]
    public async Task Hit_Signed_IsVerifiedAndServed_ATamperedBodyIsAMiss()
    {
        var store = new StreamingStore();
        using var cache = Cache(o => o.Serializer.SigningKeys.Add(RandomNumberGenerator.GetBytes(32)), store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));
        await GetBytesAsync(cache);
        (Flags(store, cache) & 0x18).Should().Be(0x18);

        (await GetBytesAsync(cache)).Should().Equal(Large);
        cache.Stub.CallCount(Url).Should().Be(1);

        store.Tamper(cache.KeyOf(Url), offset: 30_000);
        (await GetBytesAsync(cache)).Should().Equal(Large);
        cache.Stub.CallCount(Url).Should().Be(2);
    }

    [Test]
    public async Task Miss_EncryptionOn_IsStoredWholeNotStreamed()
    {
        var store = new StreamingStore();
        using var cache = Cache(o => o.Serializer.EncryptionKeys.Add(RandomNumberGenerator.GetBytes(32)), store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));

        await GetBytesAsync(cache);
        (await GetBytesAsync(cache)).Should().Equal(Large);

        cache.Stub.CallCount(Url).Should().Be(1);
        store.StreamedWrites.Should().Be(0);
        (Flags(store, cache) & 0x14).Should().Be(0x04);
    }

    [Test]
    public async Task Miss_AbandonedMidBody_StoresNothing()
    {
        var store = new StreamingStore();
        using var cache = Cache(store: store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));

        using (var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead))
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            await stream.ReadExactlyAsync(new byte[50_000]);
        }

        (await cache.StoredCountAsync()).Should().Be(0);
        store.OpenWrites.Should().Be(0);
    }

    [Test]
    public async Task Revalidation_304_KeepsTheStoredBody()
    {
        var store = new StreamingStore();
        using var cache = Cache(o => o.CacheControl = true, store);
        cache.Stub.RespondInSequence(
            Url,
            StubResponse.Ok(Large).WithContentType("application/octet-stream").WithHeader("ETag", "\"v1\"").WithHeader("Cache-Control", "no-cache"),
            StubResponse.NotModified().WithHeader("ETag", "\"v1\"").WithHeader("Cache-Control", "no-cache"));
        await GetBytesAsync(cache);

        var (response, _) = await cache.GetAsync(Url);
        var body = await response.Content.ReadAsByteArrayAsync();

        body.Should().Equal(Large);
        response.GetCacheInfo().Status.Should().Be(CacheStatus.Revalidated);
        (await GetBytesAsync(cache)).Should().Equal(Large);

        // The first response, then the body copied into a new entry on each 304 (no-cache: every use revalidates).
        store.StreamedWrites.Should().Be(3);
    }

    [Test]
    public async Task Delete_StreamedEntry_RemovesIt()
    {
        var store = new StreamingStore();
        using var cache = Cache(store: store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));
        await GetBytesAsync(cache);

        (await cache.Backend.DeleteUrlAsync(Url)).Should().BeTrue();

        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Hit_LargeEntryStoredWhole_IsServedFromStorage()
    {
        var store = new StreamingStore();
        using var cache = Cache(o => o.StreamingThreshold = int.MaxValue, store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));
        await GetBytesAsync(cache);
        store.StreamedWrites.Should().Be(0);

        cache.Options.StreamingThreshold = Threshold;
        using var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);

        response.Content.Should().BeOfType<StoredBodyContent>();
        (await response.Content.ReadAsByteArrayAsync()).Should().Equal(Large);
        cache.Stub.CallCount(Url).Should().Be(1);
    }

    [Test]
    public async Task Hit_EntryReplacedAfterLookup_FailsTheReadInsteadOfServingAnotherBody()
    {
        var store = new StreamingStore();
        using var cache = Cache(store: store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream"));
        await GetBytesAsync(cache);
        using var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);

        var key = cache.KeyOf(Url);
        var other = await cache.Backend.GetResponseAsync(key);
        await cache.Backend.SaveResponseAsync(other! with { CreatedAt = other.CreatedAt.AddSeconds(1) }, key);

        var act = async () => await response.Content.ReadAsByteArrayAsync();
        (await act.Should().ThrowAsync<HttpRequestException>()).WithInnerException<IOException>();
    }

    [Test]
    public async Task Miss_WithVary_IsNotStreamed()
    {
        var store = new StreamingStore();
        using var cache = Cache(store: store);
        cache.Stub.Respond(Url, StubResponse.Ok(Large).WithContentType("application/octet-stream").WithHeader("Vary", "Accept"));

        await GetBytesAsync(cache);
        (await GetBytesAsync(cache)).Should().Equal(Large);

        cache.Stub.CallCount(Url).Should().Be(1);
        store.StreamedWrites.Should().Be(0);
    }

    [Test]
    public async Task Miss_OverMaxBodySize_IsNotStored()
    {
        var store = new StreamingStore();
        using var cache = Cache(o => o.MaxBodySize = 70_000, store);
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new MemoryStream(Large), contentLength: null));

        (await GetBytesAsync(cache)).Should().Equal(Large);

        (await cache.StoredCountAsync()).Should().Be(0);
        store.OpenWrites.Should().Be(0);
    }

    [Test]
    public void Deserialize_StreamedEntryReadWhole_GivesTheBody()
    {
        var serializer = new EntrySerializer(new CacheOptions());
        var response = new CachedResponse { Method = "GET", Url = new Uri(Url), StatusCode = HttpStatusCode.OK, CreatedAt = DateTimeOffset.UnixEpoch };
        var writer = serializer.BeginStreamed(response, "k");
        using var buffer = new MemoryStream();
        writer.StartAsync(buffer, default).AsTask().GetAwaiter().GetResult();
        writer.WriteBodyAsync(buffer, Large, default).AsTask().GetAwaiter().GetResult();
        writer.FinishAsync(buffer, default).AsTask().GetAwaiter().GetResult();

        var read = serializer.Deserialize(buffer.ToArray(), "k");

        read.Body.ToArray().Should().Equal(Large);
        writer.TotalLength.Should().Be(buffer.Length);
    }

    [Test]
    public void Validate_NegativeStreamingThreshold_Throws()
    {
        var act = () => new CacheBackend(new CacheOptions { StreamingThreshold = -1 });

        act.Should().Throw<ArgumentException>().WithMessage("*StreamingThreshold*");
        new CacheOptions { StreamingThreshold = 7 }.Clone().StreamingThreshold.Should().Be(7);
    }

    /// <summary>An in-memory storage that streams: writes through a buffer committed whole, reads heads.</summary>
    public sealed class StreamingStore : InMemoryCache
    {
        private int _streamedWrites;
        private int _openWrites;

        public int StreamedWrites => Volatile.Read(ref _streamedWrites);

        public int OpenWrites => Volatile.Read(ref _openWrites);

        public override bool SupportsStreaming => true;

        public byte[]? Raw(string key) => ReadAsync(key).AsTask().GetAwaiter().GetResult();

        public void Tamper(string key, int offset)
        {
            var bytes = Raw(key)!.ToArray();
            bytes[offset] ^= 0xFF;
            WriteAsync(key, bytes).AsTask().GetAwaiter().GetResult();
        }

        public override ValueTask<StorageWriteStream> OpenWriteAsync(string key, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _openWrites);
            return ValueTask.FromResult<StorageWriteStream>(new BufferWriteStream(this, key, deleteAfter));
        }

        public override async ValueTask<StoredEntryInfo?> ReadUpToAsync(string key, int maxBytes, int headBytes, CancellationToken cancellationToken = default)
        {
            var value = await ReadAsync(key, cancellationToken);
            return value is null ? null : new StoredEntryInfo(key, value.Length) { Head = value.Length <= maxBytes ? value : value[..Math.Min(headBytes, value.Length)] };
        }

        private sealed class BufferWriteStream(StreamingStore owner, string key, DateTimeOffset? deleteAfter) : StorageWriteStream
        {
            private readonly MemoryStream _buffer = new();
            private bool _closed;

            protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
                => _buffer.WriteAsync(buffer, cancellationToken);

            protected override async ValueTask CommitCoreAsync(CancellationToken cancellationToken)
            {
                await owner.WriteAsync(key, _buffer.ToArray(), deleteAfter, cancellationToken);
                Interlocked.Increment(ref owner._streamedWrites);
                Close(committed: true);
            }

            protected override void Dispose(bool disposing)
            {
                Close(committed: false);
                base.Dispose(disposing);
            }

            private void Close(bool committed)
            {
                if (!_closed)
                {
                    _closed = true;
                    Interlocked.Decrement(ref owner._openWrites);
                    _ = committed;
                }
            }
        }
    }
}
