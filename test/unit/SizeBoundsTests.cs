using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using System.Text;
using CachedHttp.Internal;
using CachedHttp.Tests.Unit.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit;

/// <summary>MaxEntries, MaxBytes and MaxEntryBytes: least-recently-used eviction of the in-memory storage, in the background.</summary>
[Parallelizable(ParallelScope.All)]
public class SizeBoundsTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static InMemoryCache Bounded(long? maxEntries = null, long? maxBytes = null, TimeProvider? time = null, string? name = null)
    {
        var store = name is null ? new InMemoryCache(time) : new NamedMemoryCache(name, time);
        store.SetSizeLimits(new StorageSizeLimits { MaxEntries = maxEntries, MaxBytes = maxBytes });
        return store;
    }

    private static async Task<List<string>> KeysAsync(BaseCache store)
    {
        var keys = new List<string>();
        await foreach (var key in store.GetKeysAsync())
        {
            keys.Add(key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    private static byte[] Value(int length, byte fill = 1) => Enumerable.Repeat(fill, length).ToArray();

    // ---- count and bytes --------------------------------------------------------------------------------------

    [Test]
    public async Task WriteAsync_OverMaxEntries_EvictsTheLeastRecentlyWritten()
    {
        using var store = Bounded(maxEntries: 10);

        for (var i = 0; i < 11; i++)
        {
            await store.WriteAsync("k" + i.ToString("D2"), Value(10));
        }

        await store.WhenTrimmedAsync();

        (await store.CountAsync()).Should().Be(10);
        (await store.ContainsAsync("k00")).Should().BeFalse("the oldest value goes first");
        (await store.ContainsAsync("k10")).Should().BeTrue();
    }

    [Test]
    public async Task ReadAsync_RecentlyRead_SurvivesTheTrim()
    {
        using var store = Bounded(maxEntries: 10);
        for (var i = 0; i < 10; i++)
        {
            await store.WriteAsync("k" + i, Value(10));
        }

        await store.ReadAsync("k0");
        await store.ReadAsync("k1");
        await store.WriteAsync("k10", Value(10));
        await store.WriteAsync("k11", Value(10));
        await store.WhenTrimmedAsync();

        (await KeysAsync(store)).Should().BeEquivalentTo(["k0", "k1", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11"]);
    }

    [Test]
    public async Task WriteAsync_OverMaxBytes_EvictsOldestUntilALittleUnder()
    {
        using var store = Bounded(maxBytes: 6400);
        for (var i = 0; i < 64; i++)
        {
            await store.WriteAsync("k" + i, Value(100));
        }

        await store.WhenTrimmedAsync();
        (await store.CountAsync()).Should().Be(64, "exactly at the bound is not over it");

        await store.WriteAsync("k64", Value(100));
        await store.WhenTrimmedAsync();

        // A trim leaves at most MaxBytes - MaxBytes/64 = 6300 bytes: 63 values of 100.
        (await store.GetTotalBytesAsync()).Should().Be(6300);
        (await store.CountAsync()).Should().Be(63);
        (await store.ContainsAsync("k0")).Should().BeFalse();
        (await store.ContainsAsync("k1")).Should().BeFalse();
        (await store.ContainsAsync("k2")).Should().BeTrue();
    }

    [Test]
    public async Task WriteAsync_OneLargeValue_EvictsAsManySmallOnesAsNeeded()
    {
        using var store = Bounded(maxBytes: 1000);
        for (var i = 0; i < 10; i++)
        {
            await store.WriteAsync("small" + i, Value(100));
        }

        await store.WriteAsync("large", Value(500));
        await store.WhenTrimmedAsync();

        (await store.GetTotalBytesAsync()).Should().BeLessThanOrEqualTo(1000 - (1000 / 64));
        (await store.ContainsAsync("large")).Should().BeTrue();
        (await store.CountAsync()).Should().Be(5);
    }

    [Test]
    public async Task GetTotalBytesAsync_WritesReplacesAndDeletes_IsExact()
    {
        using var store = new InMemoryCache();

        await store.WriteAsync("a", Value(100));
        await store.WriteAsync("b", Value(50));
        await store.WriteAsync("a", Value(30));
        await store.DeleteAsync("b");
        await store.DeleteManyAsync(["zzz"]);
        await store.WriteAsync("c", Value(7));

        (await store.GetTotalBytesAsync()).Should().Be(37);
        await store.ClearAsync();
        (await store.GetTotalBytesAsync()).Should().Be(0);
    }

    [Test]
    public async Task GetTotalBytesAsync_ConcurrentWritersAndDeleters_MatchesTheValues()
    {
        using var store = new InMemoryCache();

        await Parallel.ForEachAsync(Enumerable.Range(0, 4000), async (i, ct) =>
        {
            var key = "k" + (i % 97);
            if (i % 3 == 0)
            {
                await store.DeleteAsync(key, ct);
            }
            else
            {
                await store.WriteAsync(key, Value(i % 50), cancellationToken: ct);
            }
        });

        long sum = 0;
        await foreach (var entry in store.GetEntriesAsync())
        {
            sum += entry.Value.Length;
        }

        (await store.GetTotalBytesAsync()).Should().Be(sum);
    }

    // ---- in the background ------------------------------------------------------------------------------------

    [Test]
    public async Task WriteAsync_TrimHeldBack_ReturnsWithoutWaitingForIt()
    {
        using var store = Bounded(maxEntries: 5);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.BeforeTrim = async _ =>
        {
            started.TrySetResult();
            await gate.Task;
        };

        var writes = new List<ValueTask>();
        for (var i = 0; i < 8; i++)
        {
            writes.Add(store.WriteAsync("k" + i, Value(10)));
        }

        writes.Should().OnlyContain(w => w.IsCompletedSuccessfully, "a write never waits for eviction");
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        (await store.CountAsync()).Should().Be(8, "the trim is held back: the storage is briefly over its bound");

        gate.SetResult();
        await store.WhenTrimmedAsync();

        (await store.CountAsync()).Should().Be(5);
    }

    [Test]
    public async Task WriteAsync_ManyWritesOverTheBound_OneTrimAtATime()
    {
        using var store = Bounded(maxEntries: 10);
        var running = 0;
        var maxRunning = 0;
        var runs = 0;
        store.BeforeTrim = async _ =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref maxRunning, now);
            Interlocked.Increment(ref runs);
            await Task.Delay(5);
            Interlocked.Decrement(ref running);
        };

        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            await store.WriteAsync("k" + i, Value(10), cancellationToken: ct));
        await store.WhenTrimmedAsync();

        maxRunning.Should().Be(1);
        runs.Should().BeLessThan(2000, "writes during a trim share one more pass");
        (await store.CountAsync()).Should().BeLessThanOrEqualTo(10);
    }

    [Test]
    public async Task SetSizeLimits_StoreAlreadyOver_TrimsInTheBackground()
    {
        using var store = new InMemoryCache();
        for (var i = 0; i < 20; i++)
        {
            await store.WriteAsync("k" + i, Value(10));
        }

        store.SetSizeLimits(new StorageSizeLimits { MaxEntries = 4 });
        await store.WhenTrimmedAsync();

        (await KeysAsync(store)).Should().BeEquivalentTo(["k16", "k17", "k18", "k19"]);
    }

    [Test]
    public async Task Trim_ExpiredValues_GoFirst_CountedAsExpired()
    {
        var name = "bounds-expired-" + Guid.NewGuid().ToString("N");
        using var metrics = new EvictionListener(name);
        var time = new FakeTimeProvider(Start);
        using var store = Bounded(maxEntries: 4, time: time, name: name);
        await store.WriteAsync("expiring", Value(10), Start.AddMinutes(1));
        for (var i = 0; i < 3; i++)
        {
            await store.WriteAsync("k" + i, Value(10));
        }

        await store.ReadAsync("expiring");
        time.Advance(TimeSpan.FromMinutes(2));
        await store.WriteAsync("k3", Value(10));
        await store.WhenTrimmedAsync();

        (await KeysAsync(store)).Should().Equal("k0", "k1", "k2", "k3");
        metrics.Total("expired").Should().Be(1);
        metrics.Total("size").Should().Be(0);
    }

    [Test]
    public async Task Trim_Evictions_AreCountedWithReasonSize()
    {
        var name = "bounds-metric-" + Guid.NewGuid().ToString("N");
        using var metrics = new EvictionListener(name);
        using var store = Bounded(maxEntries: 10, name: name);

        for (var i = 0; i < 25; i++)
        {
            await store.WriteAsync("k" + i, Value(10));
            await store.WhenTrimmedAsync();
        }

        var count = await store.CountAsync();
        count.Should().Be(10);
        metrics.Total("size").Should().Be(15);
    }

    [Test]
    public async Task Trim_Throws_CountedAsAStorageError_AndTheNextWriteTriesAgain()
    {
        var name = "bounds-failing-" + Guid.NewGuid().ToString("N");
        using var errors = new EvictionListener(name, "cachedhttp.storage.errors", "operation");
        using var store = new FailingOnceCache(name);
        store.SetSizeLimits(new StorageSizeLimits { MaxEntries = 2 });
        await store.WhenTrimmedAsync();

        for (var i = 0; i < 3; i++)
        {
            await store.WriteAsync("k" + i, Value(1));
        }

        await store.WhenTrimmedAsync();
        errors.Total("trim").Should().Be(1);
        (await store.CountAsync()).Should().Be(3);

        await store.WriteAsync("k3", Value(1));
        await store.WhenTrimmedAsync();

        (await store.CountAsync()).Should().Be(2);
    }

    [Test]
    public async Task Dispose_DuringAHeldTrim_AbandonsIt()
    {
        var store = Bounded(maxEntries: 1);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.BeforeTrim = token => gate.Task.WaitAsync(token);
        await store.WriteAsync("a", Value(1));
        await store.WriteAsync("b", Value(1));

        await store.DisposeAsync();

        (await store.CountAsync()).Should().Be(2, "the trim was cancelled with the storage");
        await store.WriteAsync("c", Value(1));
        await store.WhenTrimmedAsync();
        (await store.CountAsync()).Should().Be(3, "a disposed storage schedules no trim");
    }

    // ---- inspection -------------------------------------------------------------------------------------------

    [Test]
    public async Task GetEntryInfosAsync_ReportsSizeLastUseDeleteAfter_AndHeadWithoutCopy()
    {
        var time = new FakeTimeProvider(Start);
        using var store = new InMemoryCache(time);
        await store.WriteAsync("k", "0123456789"u8.ToArray(), Start.AddHours(1));
        await store.WriteAsync("unused", "x"u8.ToArray());
        time.Advance(TimeSpan.FromMinutes(5));
        var stored = await store.ReadAsync("k");

        var infos = new List<StoredEntryInfo>();
        await foreach (var info in store.GetEntryInfosAsync(headBytes: 4))
        {
            infos.Add(info);
        }

        var k = infos.Single(i => i.Key == "k");
        k.Size.Should().Be(10);
        k.LastUsedAt.Should().Be(Start.AddMinutes(5));
        k.DeleteAfter.Should().Be(Start.AddHours(1));
        k.Head.ToArray().Should().Equal("0123"u8.ToArray());
        MemoryMarshal.TryGetArray(k.Head, out var segment).Should().BeTrue();
        segment.Array.Should().BeSameAs(stored, "the head is a slice of the stored array, not a copy");
        var unused = infos.Single(i => i.Key == "unused");
        unused.LastUsedAt.Should().Be(Start);
        unused.Head.Length.Should().Be(1);
        unused.DeleteAfter.Should().BeNull();
    }

    [Test]
    public async Task GetEntryInfosAsync_NegativeHead_Throws()
    {
        using var store = new InMemoryCache();
        var act = async () =>
        {
            await foreach (var unused in store.GetEntryInfosAsync(-1))
            {
            }
        };

        await act.Should().ThrowAsync<ArgumentOutOfRangeException>();
    }

    // ---- through the backend ----------------------------------------------------------------------------------

    [Test]
    public void CacheBackend_MaxEntriesAndMaxBytes_BoundBothStores()
    {
        using var backend = new CacheBackend(new CacheOptions { MaxEntries = 100, MaxBytes = 1_000_000 });

        backend.Responses.SizeLimits.Should().Be(new StorageSizeLimits { MaxEntries = 100, MaxBytes = 1_000_000 });
        backend.Redirects.SizeLimits.Should().Be(new StorageSizeLimits { MaxEntries = 100, MaxBytes = 1_000_000 });
    }

    [Test]
    public void CacheBackend_NoBounds_StoresAreUnbounded()
    {
        using var backend = new CacheBackend(new CacheOptions { MaxEntryBytes = 10_000 });

        backend.Responses.SizeLimits.Should().BeNull();
    }

    [TestCase(nameof(CacheOptions.MaxEntries))]
    [TestCase(nameof(CacheOptions.MaxBytes))]
    public void CacheBackend_StoreWithoutSizeLimits_ThrowsNamingTheOption(string option)
    {
        var options = option == nameof(CacheOptions.MaxEntries) ? new CacheOptions { MaxEntries = 10 } : new CacheOptions { MaxBytes = 10 };
        var responses = new UnboundedStore();

        var act = () => new CacheBackend(responses, new UnboundedStore(), options);

        act.Should().Throw<ArgumentException>()
            .Which.Should().Match<ArgumentException>(e => e.ParamName == option && e.Message.Contains("CacheOptions." + option) && e.Message.Contains("unbounded-test"));
        responses.Disposed.Should().BeTrue("the backend owned the stores it was given");
    }

    [Test]
    public void SetSizeLimits_StoreWithoutSupport_ThrowsNotSupported()
    {
        using var store = new UnboundedStore();

        var act = () => store.SetSizeLimits(new StorageSizeLimits { MaxEntries = 1 });

        act.Should().Throw<NotSupportedException>();
        store.SetSizeLimits(null);
        store.SizeLimits.Should().BeNull();
    }

    [Test]
    public async Task CachingHandler_MaxEntries_KeepsTheRecentlyUsedResponses()
    {
        using var cache = new TestCache(o => o.MaxEntries = 3);
        for (var i = 0; i < 3; i++)
        {
            await cache.GetAsync($"https://example.com/{i}");
        }

        await cache.GetAsync("https://example.com/0");
        await cache.GetAsync("https://example.com/3");
        await cache.Backend.Responses.WhenTrimmedAsync();

        (await cache.GetAsync("https://example.com/0")).Response.IsFromCache().Should().BeTrue();
        (await cache.GetAsync("https://example.com/3")).Response.IsFromCache().Should().BeTrue();
        (await cache.GetAsync("https://example.com/2")).Response.IsFromCache().Should().BeTrue();
        await cache.Backend.Responses.WhenTrimmedAsync();
        cache.Stub.CallCount("https://example.com/1").Should().Be(1);
        (await cache.Backend.Responses.ContainsAsync(cache.KeyOf("https://example.com/1"))).Should().BeFalse();
    }

    // ---- options ----------------------------------------------------------------------------------------------

    [TestCase(0L, null, null, "CacheOptions.MaxEntries must be positive or null, not 0.")]
    [TestCase(null, -1L, null, "CacheOptions.MaxBytes must be positive or null, not -1.")]
    [TestCase(null, null, 0L, "CacheOptions.MaxEntryBytes must be positive or null, not 0.")]
    [TestCase(null, 100L, 101L, "CacheOptions.MaxEntryBytes is 101, more than MaxBytes (100).")]
    public void Constructor_InvalidSizeBound_ThrowsWithAMessageSayingWhy(long? maxEntries, long? maxBytes, long? maxEntryBytes, string message)
    {
        var act = () => new CacheBackend(new CacheOptions { MaxEntries = maxEntries, MaxBytes = maxBytes, MaxEntryBytes = maxEntryBytes });

        act.Should().Throw<ArgumentException>().Which.Message.Should().StartWith(message);
    }

    [Test]
    public void Constructor_SizeBoundsAtTheirEdges_AreAccepted()
    {
        var act = () => new CacheBackend(new CacheOptions { MaxEntries = 1, MaxBytes = 100, MaxEntryBytes = 100 }).Dispose();

        act.Should().NotThrow();
    }

    // ---- MaxEntryBytes ----------------------------------------------------------------------------------------

    [Test]
    public async Task CachingHandler_EntryOverMaxEntryBytes_IsServedButNotStored_LoggedAndCounted()
    {
        var name = "too-large-" + Guid.NewGuid().ToString("N");
        using var metrics = new EvictionListener(name);
        var logs = new EventLog();
        var stub = new StubHandler()
            .Respond("https://example.com/large", StubResponse.Ok(new string('x', 5000)))
            .Respond("https://example.com/small", StubResponse.Ok("small"));
        using var cache = new TestCache(
            o =>
            {
                o.MaxEntryBytes = 2000;
                o.LoggerFactory = logs;
            },
            stub,
            backend: o => new CacheBackend(new NamedMemoryCache(name), new NamedMemoryCache(name), o));

        var first = await cache.GetAsync("https://example.com/large");
        var second = await cache.GetAsync("https://example.com/large");
        await cache.GetAsync("https://example.com/small");
        var small = await cache.GetAsync("https://example.com/small");

        first.Body.Should().HaveLength(5000);
        second.Body.Should().HaveLength(5000);
        second.Response.IsFromCache().Should().BeFalse();
        stub.CallCount("https://example.com/large").Should().Be(2);
        small.Response.IsFromCache().Should().BeTrue();
        (await cache.StoredCountAsync()).Should().Be(1);
        metrics.Total("too-large").Should().Be(2);
        logs.Entries.Should().Contain(e => e.EventId == 30 && e.Message.Contains("2000") && !e.Message.Contains("example.com"));
    }

    [Test]
    public async Task SaveResponseAsync_LargerThanMaxEntryBytes_DeletesTheSupersededEntry()
    {
        using var backend = new CacheBackend(new CacheOptions { MaxEntryBytes = 1000 });
        var small = CachedResponseOf("https://example.com/x", "small");
        var key = await backend.SaveResponseAsync(small);
        (await backend.GetResponseAsync(key)).Should().NotBeNull();

        await backend.SaveResponseAsync(CachedResponseOf("https://example.com/x", new string('y', 2000)));

        (await backend.GetResponseAsync(key)).Should().BeNull("a newer response replaced it, even though it was too large to store");
    }

    [Test]
    public async Task CachingHandler_MaxEntryBytesAndCompression_BoundsTheCompressedSize()
    {
        var stub = new StubHandler().Respond("https://example.com/text", StubResponse.Ok(new string('a', 20_000)));
        using var cache = new TestCache(
            o =>
            {
                o.MaxEntryBytes = 5000;
                o.Serializer = new CacheSerializerOptions { Compression = CacheCompression.Brotli };
            },
            stub);

        await cache.GetAsync("https://example.com/text");

        (await cache.StoredCountAsync()).Should().Be(1, "20,000 repeated bytes compress far below 5,000");
    }

    private static CachedResponse CachedResponseOf(string url, string body) => new()
    {
        StatusCode = System.Net.HttpStatusCode.OK,
        Url = new Uri(url),
        Method = "GET",
        Body = Encoding.UTF8.GetBytes(body),
        CreatedAt = Start,
    };

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private sealed class NamedMemoryCache(string name, TimeProvider? time = null) : InMemoryCache(time)
    {
        public override string Name => name;
    }

    private sealed class FailingOnceCache(string name) : InMemoryCache
    {
        private int _calls;

        public override string Name => name;

        protected override ValueTask TrimAsync(StorageSizeLimits limits, CancellationToken cancellationToken)
            => Interlocked.Increment(ref _calls) == 2
                ? throw new IOException("disk on fire")
                : base.TrimAsync(limits, cancellationToken);
    }

    private sealed class UnboundedStore : InMemoryCache
    {
        public bool Disposed { get; private set; }

        public override string Name => "unbounded-test";

        public override bool SupportsSizeLimits => false;

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    /// <summary>Sums a counter (<c>cachedhttp.evictions</c> by default) by one tag (<c>reason</c>), for one backend name.</summary>
    private sealed class EvictionListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _totals = new(StringComparer.Ordinal);

        public EvictionListener(string backend, string instrumentName = "cachedhttp.evictions", string tagName = "reason")
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == CacheMetrics.MeterName && instrument.Name == instrumentName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? name = null, reason = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "backend")
                    {
                        name = tag.Value as string;
                    }
                    else if (tag.Key == tagName)
                    {
                        reason = tag.Value as string;
                    }
                }

                if (name == backend && reason is not null)
                {
                    _totals.AddOrUpdate(reason, value, (_, total) => total + value);
                }
            });
            _listener.Start();
        }

        public long Total(string reason) => _totals.TryGetValue(reason, out var total) ? total : 0;

        public void Dispose() => _listener.Dispose();
    }

    private sealed class EventLog : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<(int EventId, string Message)> _entries = new();

        public IReadOnlyList<(int EventId, string Message)> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => _entries.Enqueue((eventId.Id, formatter(state, exception)));

        public void Dispose()
        {
        }
    }
}
