using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

[Parallelizable(ParallelScope.All)]
public class CacheOptionsTests
{
    private static IEnumerable<TestCaseData> InvalidOptions()
    {
        TestCaseData Case(string option, string scenario, Action<CacheOptions> breakIt)
            => new TestCaseData(option, breakIt).SetName($"Constructor_{option}{scenario}_ThrowsNamingTheOption");

        yield return Case("ExpireAfter", "Null", o => o.ExpireAfter = null!);
        yield return Case("UrlsExpireAfter", "Null", o => o.UrlsExpireAfter = null!);
        yield return Case("UrlsExpireAfter", "NullExpiration", o => o.UrlsExpireAfter = new Dictionary<string, Expiration> { ["example.com"] = null! });
        yield return Case("AllowedCodes", "Null", o => o.AllowedCodes = null!);
        yield return Case("AllowedCodes", "Below100", o => o.AllowedCodes = new HashSet<int> { 200, 99 });
        yield return Case("AllowedCodes", "Above999", o => o.AllowedCodes = new HashSet<int> { 1000 });
        yield return Case("AllowedMethods", "Null", o => o.AllowedMethods = null!);
        yield return Case("AllowedMethods", "Empty", o => o.AllowedMethods = new HashSet<string> { "GET", "" });
        yield return Case("AllowedMethods", "WithSpace", o => o.AllowedMethods = new HashSet<string> { "GE T" });
        yield return Case("MatchHeaders", "Null", o => o.MatchHeaders = null!);
        yield return Case("MatchHeaders", "Blank", o => o.MatchHeaders = new List<string> { " " });
        yield return Case("MatchHeaders", "WithColon", o => o.MatchHeaders = new List<string> { "X-Api:Key" });
        yield return Case("IgnoredParameters", "Null", o => o.IgnoredParameters = null!);
        yield return Case("IgnoredParameters", "Empty", o => o.IgnoredParameters = new HashSet<string> { "" });
        yield return Case("MaxBodySize", "Negative", o => o.MaxBodySize = -1);
        yield return Case("MaxEntries", "Zero", o => o.MaxEntries = 0);
        yield return Case("MaxEntries", "Negative", o => o.MaxEntries = -5);
        yield return Case("MaxBytes", "Zero", o => o.MaxBytes = 0);
        yield return Case("MaxEntryBytes", "Negative", o => o.MaxEntryBytes = -1);
        yield return Case("MaxEntryBytes", "AboveMaxBytes", o => (o.MaxBytes, o.MaxEntryBytes) = (1000, 1001));
        yield return Case("StaleIfError", "Negative", o => o.StaleIfError = TimeSpan.FromSeconds(-1));
        yield return Case("StaleWhileRevalidate", "Negative", o => o.StaleWhileRevalidate = TimeSpan.FromSeconds(-1));
        yield return Case("StaleRetention", "Negative", o => o.StaleRetention = TimeSpan.FromSeconds(-1));
        yield return Case("HeuristicFraction", "Negative", o => o.HeuristicFraction = -0.1);
        yield return Case("HeuristicFraction", "AboveOne", o => o.HeuristicFraction = 1.5);
        yield return Case("HeuristicFraction", "NaN", o => o.HeuristicFraction = double.NaN);
        yield return Case("HeuristicMaxAge", "Negative", o => o.HeuristicMaxAge = TimeSpan.FromSeconds(-1));
        yield return Case("TimeProvider", "Null", o => o.TimeProvider = null!);
        yield return Case("StorageTimeout", "Zero", o => o.StorageTimeout = TimeSpan.Zero);
        yield return Case("StorageTimeout", "Negative", o => o.StorageTimeout = TimeSpan.FromSeconds(-1));
        yield return Case("StorageTimeout", "BeyondATimer", o => o.StorageTimeout = TimeSpan.FromDays(50));
        yield return Case("CircuitBreaker", "Null", o => o.CircuitBreaker = null!);
        yield return Case("CircuitBreaker.FailureThreshold", "Zero", o => o.CircuitBreaker.FailureThreshold = 0);
        yield return Case("CircuitBreaker.BreakDuration", "Zero", o => o.CircuitBreaker.BreakDuration = TimeSpan.Zero);
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void Constructor_InvalidOption_ThrowsArgumentExceptionNamingIt(string option, Action<CacheOptions> breakIt)
    {
        var options = new CacheOptions();
        breakIt(options);

        var act = () => new CacheBackend(options);

        act.Should().Throw<ArgumentException>()
            .Which.Should().Match<ArgumentException>(e => e.ParamName == option && e.Message.Contains("CacheOptions." + option));
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void ConstructorWithStores_InvalidOption_ThrowsArgumentExceptionNamingIt(string option, Action<CacheOptions> breakIt)
    {
        var options = new CacheOptions();
        breakIt(options);

        var act = () => new CacheBackend(new InMemoryCache(), new InMemoryCache(), options);

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
    }

    [Test]
    public void Constructor_ValidEdgeValues_DoesNotThrow()
    {
        var options = new CacheOptions
        {
            AllowedCodes = new HashSet<int> { 100, 999 },
            AllowedMethods = new HashSet<string> { "GET", "PURGE", "M-SEARCH" },
            MatchHeaders = ["X-Api-Key"],
            MaxBodySize = 0,
            StaleIfError = TimeSpan.Zero,
            HeuristicFraction = 1,
            UrlsExpireAfter = new Dictionary<string, Expiration> { [""] = Expiration.Never },
        };

        var act = () => new CacheBackend(options).Dispose();

        act.Should().NotThrow();
    }

    [Test]
    public void Constructor_NullOptions_UsesDefaults()
    {
        using var backend = new CacheBackend();

        backend.Options.Should().NotBeNull();
        backend.Options.AllowedCodes.Should().BeEquivalentTo([200]);
    }

    [Test]
    public void Defaults_Always_AreTheDocumentedValues()
    {
        var options = new CacheOptions();

        options.ExpireAfter.Should().Be(Expiration.Never);
        options.UrlsExpireAfter.Should().BeEmpty();
        options.AllowedCodes.Should().BeEquivalentTo([200]);
        options.AllowedMethods.Should().BeEquivalentTo(["GET", "HEAD"]);
        options.IncludeHeaders.Should().BeFalse();
        options.MatchHeaders.Should().BeEmpty();
        options.IgnoredParameters.Should().BeEmpty();
        options.CacheControl.Should().BeFalse();
        options.Filter.Should().BeNull();
        options.AsyncFilter.Should().BeNull();
        options.AutoClose.Should().BeNull();
        options.MaxBodySize.Should().Be(64L * 1024 * 1024);
        options.ShareAcrossCredentials.Should().BeFalse();
        options.CoalesceRequests.Should().BeTrue();
        options.TimeProvider.Should().BeSameAs(TimeProvider.System);
    }

    [Test]
    public void AllowedMethods_Default_IsCaseInsensitive()
    {
        var options = new CacheOptions();

        options.AllowedMethods.Contains("get").Should().BeTrue();
        options.AllowedMethods.Contains("Head").Should().BeTrue();
        options.AllowedMethods.Contains("POST").Should().BeFalse();
    }

    [Test]
    public void UrlsExpireAfter_Default_KeepsInsertionOrder()
    {
        var options = new CacheOptions();
        options.UrlsExpireAfter["z.example.com"] = Expiration.Never;
        options.UrlsExpireAfter["a.example.com"] = Expiration.DoNotCache;
        options.UrlsExpireAfter["m.example.com"] = Expiration.ExpireImmediately;

        options.UrlsExpireAfter.Keys.Should().Equal("z.example.com", "a.example.com", "m.example.com");
    }

    [TestCase(null)]
    [TestCase(-1)]
    [TestCase(1)]
    public void Constructor_StorageTimeoutNoneInfiniteOrPositive_DoesNotThrow(int? milliseconds)
    {
        var options = new CacheOptions { StorageTimeout = milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null };

        var act = () => new CacheBackend(options).Dispose();

        act.Should().NotThrow();
    }

    [Test]
    public void Defaults_StorageTimeoutAndCircuitBreaker_AreFiveSecondsAndFiveFailuresForThirtySeconds()
    {
        var options = new CacheOptions();

        options.StorageTimeout.Should().Be(TimeSpan.FromSeconds(5));
        options.CircuitBreaker.Enabled.Should().BeTrue();
        options.CircuitBreaker.FailureThreshold.Should().Be(5);
        options.CircuitBreaker.BreakDuration.Should().Be(TimeSpan.FromSeconds(30));
    }

    [Test]
    public void Clone_CircuitBreaker_IsCopiedNotShared()
    {
        var options = new CacheOptions { StorageTimeout = TimeSpan.FromSeconds(2) };
        options.CircuitBreaker.FailureThreshold = 7;

        var copy = options.Clone();
        options.CircuitBreaker.FailureThreshold = 8;

        copy.StorageTimeout.Should().Be(TimeSpan.FromSeconds(2));
        copy.CircuitBreaker.Should().NotBeSameAs(options.CircuitBreaker);
        copy.CircuitBreaker.FailureThreshold.Should().Be(7);
    }

    [Test]
    public void Clone_Always_CopiesValuesAndCollections()
    {
        var options = new CacheOptions
        {
            ExpireAfter = Expiration.After(TimeSpan.FromMinutes(3)),
            AllowedCodes = new HashSet<int> { 200, 404 },
            IncludeHeaders = true,
            CacheControl = true,
            MaxBodySize = 10,
        };
        options.IgnoredParameters.Add("api_key");

        var copy = options.Clone();
        options.AllowedCodes.Add(500);
        options.IgnoredParameters.Add("token");

        copy.ExpireAfter.Should().Be(Expiration.After(TimeSpan.FromMinutes(3)));
        copy.AllowedCodes.Should().BeEquivalentTo([200, 404]);
        copy.IgnoredParameters.Should().BeEquivalentTo(["api_key"]);
        copy.IncludeHeaders.Should().BeTrue();
        copy.CacheControl.Should().BeTrue();
        copy.MaxBodySize.Should().Be(10);
    }

    [Test]
    public async Task Options_ChangedAfterConstruction_TakeEffectOnNextRequest()
    {
        using var cache = new TestCache();
        await cache.GetAsync("https://example.com/a");
        cache.Options.ExpireAfter = Expiration.DoNotCache;

        await cache.GetAsync("https://example.com/a");

        cache.Stub.CallCount("https://example.com/a").Should().Be(2);
    }
}
