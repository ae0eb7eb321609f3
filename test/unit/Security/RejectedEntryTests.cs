using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CachedHttp.Internal;
using Microsoft.Extensions.Logging;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

[Parallelizable(ParallelScope.All)]
public class RejectedEntryTests
{
    private const string Url = "https://api.example.com/private/items?page=1";

    [Test]
    public async Task GetResponse_TamperedSignedEntry_IsAMissDeletedLoggedAndCounted()
    {
        var logs = new CapturingLoggerFactory();
        var options = Options(sign: true);
        options.LoggerFactory = logs;
        var name = "tamper-" + Guid.NewGuid().ToString("N");
        using var metrics = new RejectionListener(name);
        using var backend = new CacheBackend(new NamedMemoryCache(name), new NamedMemoryCache(name), options);
        var key = await backend.SaveResponseAsync(Json() with { Url = new Uri(Url), ExpiresAt = null });
        var bytes = (await backend.Responses.ReadAsync(key))!.ToArray();
        bytes[bytes.Length / 2] ^= 0x20;
        await backend.Responses.WriteAsync(key, bytes);

        var response = await backend.GetResponseAsync(key);

        response.Should().BeNull();
        (await backend.Responses.ContainsAsync(key)).Should().BeFalse("a rejected entry is deleted");
        metrics.Reasons.Should().Equal("signature");
        var warning = logs.Entries.Should().ContainSingle(e => e.Level == LogLevel.Warning).Subject;
        warning.Message.Should().NotContain(key).And.NotContain("api.example.com").And.NotContain("/private");
    }

    [TestCase(true, false, "unsigned")]
    [TestCase(false, true, "unencrypted")]
    public async Task GetResponse_EntryWrittenBeforeProtectionWasTurnedOn_IsAMiss(bool sign, bool encrypt, string reason)
    {
        var name = "upgrade-" + Guid.NewGuid().ToString("N");
        using var metrics = new RejectionListener(name);
        using var storage = new NamedMemoryCache(name);
        using var redirects = new NamedMemoryCache(name);
        var plain = new CacheBackend(storage, redirects);
        var key = await plain.SaveResponseAsync(Json() with { ExpiresAt = null });
        var protectedBackend = new CacheBackend(storage, redirects, Options(sign, encrypt));

        (await protectedBackend.GetResponseAsync(key)).Should().BeNull();
        metrics.Reasons.Should().Equal(reason);
    }

    [Test]
    public async Task GetResponse_EntryCopiedToAnotherKey_IsAMiss()
    {
        using var backend = new CacheBackend(Options(sign: true));
        var key = await backend.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/a"), ExpiresAt = null });
        var other = backend.KeyForUrl(new Uri("https://example.com/b"), "GET");
        await backend.Responses.WriteAsync(other, (await backend.Responses.ReadAsync(key))!);

        (await backend.GetResponseAsync(key)).Should().NotBeNull();
        (await backend.GetResponseAsync(other)).Should().BeNull();
    }

    [TestCase(true, false)]
    [TestCase(false, false)]
    [TestCase(false, true)]
    public async Task GetResponse_ForgedRedirectAlias_IsAMissWhenEntriesAreAuthenticated(bool sign, bool encrypt)
    {
        using var backend = new CacheBackend(Options(sign, encrypt));
        var key = await backend.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/a"), ExpiresAt = null, AliasKeys = [] });
        var victim = backend.KeyForUrl(new Uri("https://example.com/victim"), "GET");
        await backend.Redirects.WriteAsync(victim, System.Text.Encoding.UTF8.GetBytes(key));

        var response = await backend.GetResponseAsync(victim);

        if (sign || encrypt)
        {
            response.Should().BeNull();
        }
        else
        {
            response.Should().NotBeNull("without authentication an alias is trusted, as before");
        }
    }

    [Test]
    public async Task GetResponse_GenuineRedirectAlias_IsServedWhenSigned()
    {
        using var backend = new CacheBackend(Options(sign: true));
        var alias = backend.KeyForUrl(new Uri("https://example.com/old"), "GET");
        var key = await backend.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/new"), ExpiresAt = null, AliasKeys = [alias] });

        (await backend.GetResponseAsync(alias)).Should().NotBeNull();
        (await backend.GetResponseAsync(key)).Should().NotBeNull();
    }

    [Test]
    public async Task DeleteExpiredResponses_WithoutTheKeys_DeletesOnlyExpiredEntries()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Created);
        var writerOptions = Options(encrypt: true);
        writerOptions.TimeProvider = clock;
        using var storage = new InMemoryCache(clock);
        using var redirects = new InMemoryCache(clock);
        var writer = new CacheBackend(storage, redirects, writerOptions);
        var expired = await writer.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/old"), ExpiresAt = Created.AddMinutes(-1) });
        var fresh = await writer.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/new"), ExpiresAt = Created.AddHours(1) });
        var forever = await writer.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/forever"), ExpiresAt = null });
        var sweeper = new CacheBackend(storage, redirects, new CacheOptions { TimeProvider = clock });

        var deleted = await sweeper.DeleteExpiredResponsesAsync();

        deleted.Should().Be(1);
        (await storage.ContainsAsync(expired)).Should().BeFalse();
        (await storage.ContainsAsync(fresh)).Should().BeTrue();
        (await storage.ContainsAsync(forever)).Should().BeTrue();
        (await writer.GetResponseAsync(fresh)).Should().NotBeNull();
    }

    [Test]
    public async Task DeleteExpiredResponses_UnsignedEntryWithSigningOn_IsDeleted()
    {
        using var storage = new InMemoryCache();
        using var redirects = new InMemoryCache();
        var key = await new CacheBackend(storage, redirects).SaveResponseAsync(Json() with { ExpiresAt = null });
        await storage.WriteAsync("v1", Convert.FromBase64String(Version1Response));

        var deleted = await new CacheBackend(storage, redirects, Options(sign: true)).DeleteExpiredResponsesAsync();

        deleted.Should().Be(2);
        (await storage.ContainsAsync(key)).Should().BeFalse();
    }

    [Test]
    public async Task GetUrlsAndResponses_WithEncryption_DecryptAndSkipRejectedEntries()
    {
        using var backend = new CacheBackend(Options(encrypt: true));
        await backend.SaveResponseAsync(Json() with { Url = new Uri("https://example.com/a?token=T"), ExpiresAt = null });
        await backend.Responses.WriteAsync("garbage", "CHC\u0002 not an entry"u8.ToArray());

        (await backend.GetUrlsAsync().ToListAsync()).Should().Equal("https://example.com/a?token=REDACTED");
        (await backend.GetResponsesAsync().ToListAsync()).Should().ContainSingle();
    }

    [Test]
    public async Task Send_TamperedEntry_GoesToTheNetworkAndStoresAgain()
    {
        var origin = new StoredSecretsTests.StubOrigin(_ => "fresh body");
        using var backend = new CacheBackend(Options(sign: true, encrypt: true));
        using var client = new HttpClient(new CachingHandler(backend, origin));
        (await client.GetStringAsync("https://example.com/x")).Should().Be("fresh body");
        var key = backend.KeyForUrl(new Uri("https://example.com/x"), "GET");
        var bytes = (await backend.Responses.ReadAsync(key))!.ToArray();
        bytes[^40] ^= 1;
        await backend.Responses.WriteAsync(key, bytes);

        (await client.GetStringAsync("https://example.com/x")).Should().Be("fresh body");
        (await client.GetStringAsync("https://example.com/x")).Should().Be("fresh body");

        origin.Requests.Should().Be(2);
    }

    internal sealed class NamedMemoryCache(string name) : InMemoryCache
    {
        public override string Name => name;
    }

    /// <summary>Collects the reason tags of <c>cachedhttp.entries.rejected</c> for one backend name.</summary>
    internal sealed class RejectionListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<string> _reasons = new();

        public RejectionListener(string backend)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == CacheMetrics.MeterName && instrument.Name == "cachedhttp.entries.rejected")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                string? name = null, reason = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "backend")
                    {
                        name = tag.Value as string;
                    }
                    else if (tag.Key == "reason")
                    {
                        reason = tag.Value as string;
                    }
                }

                if (name == backend && reason is not null)
                {
                    _reasons.Enqueue(reason);
                }
            });
            _listener.Start();
        }

        public IReadOnlyList<string> Reasons => [.. _reasons];

        public void Dispose() => _listener.Dispose();
    }

    internal sealed class CapturingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => _entries.Enqueue((logLevel, formatter(state, exception)));

        public void Dispose()
        {
        }
    }
}
