using CachedHttp.DependencyInjection;
using CachedHttp.Tests.Integration.Foundation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CachedHttp.Tests.Integration.DependencyInjection;

/// <summary>CacheOptions bound from configuration (in memory and appsettings-style JSON), validated at host start-up.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ConfigurationTests : OriginFixture
{
    [Test]
    public async Task JsonFile_EveryKindOfOption_IsBound()
    {
        var json = """
            {
              "CachedHttp": {
                "ExpireAfter": "15m",
                "UrlsExpireAfter": { "api.example.com/static": "-1", "*.example.com/live": "0", "example.com/daily": "1d" },
                "AllowedCodes": [ 200, 203 ],
                "AllowedMethods": [ "GET" ],
                "MatchHeaders": [ "Accept-Language" ],
                "IgnoredParameters": [ "api_key" ],
                "CacheControl": true,
                "AutoClose": false,
                "MaxBodySize": 1048576,
                "StaleIfError": "5m",
                "StaleWhileRevalidate": "00:00:30",
                "HeuristicFraction": 0.2
              }
            }
            """;
        await using var file = await JsonFile.WriteAsync(json);
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        await host.StartAsync();
        var options = host.Services.GetRequiredService<CacheBackend>().Options;
        await host.StopAsync();

        options.ExpireAfter.Should().Be(Expiration.After(TimeSpan.FromMinutes(15)));
        options.UrlsExpireAfter.Should().BeEquivalentTo(new Dictionary<string, Expiration>
        {
            ["api.example.com/static"] = Expiration.Never,
            ["*.example.com/live"] = Expiration.DoNotCache,
            ["example.com/daily"] = Expiration.After(TimeSpan.FromDays(1)),
        });
        options.AllowedCodes.Should().BeEquivalentTo([200, 203]);
        options.AllowedMethods.Should().BeEquivalentTo(["GET"]);
        options.AllowedMethods.Contains("get").Should().BeTrue("the default's case-insensitive comparer is kept");
        options.MatchHeaders.Should().Equal("Accept-Language");
        options.IgnoredParameters.Should().BeEquivalentTo(["api_key"]);
        options.CacheControl.Should().BeTrue();
        options.AutoClose.Should().BeFalse();
        options.MaxBodySize.Should().Be(1048576);
        options.StaleIfError.Should().Be(TimeSpan.FromMinutes(5));
        options.StaleWhileRevalidate.Should().Be(TimeSpan.FromSeconds(30));
        options.HeuristicFraction.Should().Be(0.2);
    }

    [Test]
    public async Task JsonFile_StorageTimeoutAndCircuitBreaker_AreBound()
    {
        var json = """
            {
              "CachedHttp": {
                "StorageTimeout": "2s",
                "CircuitBreaker": { "FailureThreshold": 3, "BreakDuration": "00:00:45" }
              }
            }
            """;
        await using var file = await JsonFile.WriteAsync(json);
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        await host.StartAsync();
        var backend = host.Services.GetRequiredService<CacheBackend>();
        await host.StopAsync();

        backend.Options.StorageTimeout.Should().Be(TimeSpan.FromSeconds(2));
        backend.Options.CircuitBreaker.FailureThreshold.Should().Be(3);
        backend.Options.CircuitBreaker.BreakDuration.Should().Be(TimeSpan.FromSeconds(45));
        backend.Options.CircuitBreaker.Enabled.Should().BeTrue("a key the section leaves out keeps its default");
        backend.Breaker!.BreakDuration.Should().Be(TimeSpan.FromSeconds(45), "the backend's breaker is built from the bound options");
    }

    [Test]
    public void EnvironmentStyleKeys_DisableTheBreakerAndTheTimeout()
    {
        var options = Bind(new()
        {
            ["CachedHttp:StorageTimeout"] = "",
            ["CachedHttp:CircuitBreaker:Enabled"] = "false",
            ["CachedHttp:CircuitBreaker:BreakDuration"] = "1m",
        });

        options.StorageTimeout.Should().BeNull();
        options.CircuitBreaker.Enabled.Should().BeFalse();
        options.CircuitBreaker.BreakDuration.Should().Be(TimeSpan.FromMinutes(1));
        options.CircuitBreaker.FailureThreshold.Should().Be(5);
    }

    [Test]
    public void Validation_BadCircuitBreakerKeys_AreReportedByTheirPath()
    {
        var resolve = () => Bind(new()
        {
            ["CachedHttp:CircuitBreaker:FailureThreshold"] = "many",
            ["CachedHttp:CircuitBreaker:BreakDuratoin"] = "30s",
            ["CachedHttp:StorageTimeout"] = "soon",
        });

        var failures = resolve.Should().Throw<OptionsValidationException>().Which.Failures.ToList();

        failures.Should().BeEquivalentTo(
            "CachedHttp:CircuitBreaker:FailureThreshold: 'many' is not a whole number.",
            "CachedHttp:CircuitBreaker:BreakDuratoin: CircuitBreakerOptions has no option 'BreakDuratoin'.",
            "CachedHttp:StorageTimeout: 'soon' is not a time span such as 00:15:00 or 15m.");
    }

    [Test]
    public async Task StartAsync_InvalidCircuitBreakerValue_FailsNamingTheNestedKey()
    {
        await using var file = await JsonFile.WriteAsync("""{ "CachedHttp": { "CircuitBreaker": { "FailureThreshold": 0 } } }""");
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("CachedHttp:CircuitBreaker:FailureThreshold must be at least 1, not 0");
    }

    [Test]
    public async Task DocsSample_AppSettings_StartsCleanly()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "CachedHttp.sln")))
        {
            root = root.Parent;
        }

        var sample = Path.Combine(root!.FullName, "docs", "samples", "appsettings.json");
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddJsonFile(sample, optional: false, reloadOnChange: false);
        builder.Services.AddHttpCache("github", builder.Configuration.GetSection("CachedHttp"));
        using var host = builder.Build();

        await host.StartAsync();
        var options = host.Services.GetRequiredKeyedService<CacheBackend>("github").Options;
        await host.StopAsync();

        options.ExpireAfter.Should().Be(Expiration.After(TimeSpan.FromMinutes(15)));
        options.UrlsExpireAfter.Should().HaveCount(2);
    }

    [Test]
    public void Collections_ReplaceTheDefaults_AndTakeCommaSeparatedValues()
    {
        var options = Bind(new()
        {
            ["CachedHttp:AllowedCodes:0"] = "203",
            ["CachedHttp:AllowedMethods"] = "GET, POST",
        });

        options.AllowedCodes.Should().BeEquivalentTo([203], "a collection from configuration replaces the default { 200 }");
        options.AllowedMethods.Should().BeEquivalentTo(["GET", "POST"]);
    }

    [Test]
    public void UrlPatterns_MapForm_AreTriedInSortedKeyOrder()
    {
        var options = Bind(new()
        {
            ["CachedHttp:UrlsExpireAfter:site.com/b"] = "1h",
            ["CachedHttp:UrlsExpireAfter:site.com"] = "-1",
            ["CachedHttp:UrlsExpireAfter:*.site.com"] = "0",
        });

        options.UrlsExpireAfter.Keys.Should().Equal("*.site.com", "site.com", "site.com/b");
    }

    [Test]
    public async Task UrlPatterns_ArrayForm_KeepTheirOrder_AndMayHaveColons()
    {
        var json = """
            {
              "CachedHttp": {
                "UrlsExpireAfter": [
                  { "Pattern": "localhost:8080/api", "Expiration": "5m" },
                  { "Pattern": "site.com/b", "Expiration": "0" },
                  { "Pattern": "", "ExpireAfter": "1h" }
                ]
              }
            }
            """;
        await using var file = await JsonFile.WriteAsync(json);
        var configuration = new ConfigurationBuilder().AddJsonFile(file.Path).Build();
        var options = Resolve(services => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        options.UrlsExpireAfter.Keys.Should().Equal("localhost:8080/api", "site.com/b", string.Empty);
        options.UrlsExpireAfter[string.Empty].Should().Be(Expiration.After(TimeSpan.FromHours(1)));
    }

    [Test]
    public async Task StartAsync_BadExpiration_FailsNamingTheKey()
    {
        await using var file = await JsonFile.WriteAsync("""{ "CachedHttp": { "ExpireAfter": "soon" } }""");
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("CachedHttp:ExpireAfter: 'soon' is not an expiration");
    }

    [Test]
    public async Task JsonFile_SizeBounds_AreBoundAndReachTheStorage()
    {
        await using var file = await JsonFile.WriteAsync("""{ "CachedHttp": { "MaxEntries": 100, "MaxBytes": 1048576, "MaxEntryBytes": 65536 } }""");
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        await host.StartAsync();
        var backend = host.Services.GetRequiredService<CacheBackend>();
        await host.StopAsync();

        backend.Options.MaxEntries.Should().Be(100);
        backend.Options.MaxBytes.Should().Be(1048576);
        backend.Options.MaxEntryBytes.Should().Be(65536);
        backend.Responses.SizeLimits.Should().Be(new StorageSizeLimits { MaxEntries = 100, MaxBytes = 1048576 });
    }

    [Test]
    public async Task StartAsync_MaxEntriesZero_FailsNamingTheKey()
    {
        await using var file = await JsonFile.WriteAsync("""{ "CachedHttp": { "MaxEntries": 0 } }""");
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("CachedHttp:MaxEntries must be positive or null, not 0");
    }

    [Test]
    public async Task StartAsync_BadStatusCode_FailsNamingTheKey()
    {
        await using var file = await JsonFile.WriteAsync("""{ "CachedHttp": { "AllowedCodes": [ 200, 42 ] } }""");
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache(configuration.GetSection("CachedHttp")));

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("CachedHttp:AllowedCodes contains 42");
    }

    [Test]
    public async Task StartAsync_NamedCache_UnknownKey_FailsNamingTheKey()
    {
        await using var file = await JsonFile.WriteAsync("""{ "Caches": { "GitHub": { "ExpireAftr": "15m" } } }""");
        using var host = BuildHost(file, (services, configuration) => services.AddHttpCache("github", configuration.GetSection("Caches:GitHub")));

        var start = () => host.StartAsync();

        var failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Message.Should().Contain("Caches:GitHub:ExpireAftr: CacheOptions has no option 'ExpireAftr'");
        failure.OptionsName.Should().Be("github");
    }

    [Test]
    public void Validation_SeveralBadKeys_AreAllReported()
    {
        var resolve = () => Bind(new()
        {
            ["CachedHttp:CacheControl"] = "maybe",
            ["CachedHttp:UrlsExpireAfter:site.com"] = "later",
            ["CachedHttp:MaxBodySize"] = "big",
            ["CachedHttp:TimeProvider"] = "system",
            ["CachedHttp:AllowedCodes:0"] = "ok",
        });

        var failures = resolve.Should().Throw<OptionsValidationException>().Which.Failures.ToList();

        failures.Should().HaveCount(5);
        failures.Should().Contain("CachedHttp:CacheControl: 'maybe' is not true or false.");
        failures.Should().Contain(f => f.StartsWith("CachedHttp:UrlsExpireAfter:site.com: 'later' is not an expiration", StringComparison.Ordinal));
        failures.Should().Contain("CachedHttp:MaxBodySize: 'big' is not a whole number.");
        failures.Should().Contain(f => f.StartsWith("CachedHttp:TimeProvider: CacheOptions.TimeProvider cannot be set from configuration", StringComparison.Ordinal));
        failures.Should().Contain("CachedHttp:AllowedCodes:0: 'ok' is not a whole number.");
    }

    [Test]
    public async Task StartAsync_InvalidOptionSetInCode_FailsNamingTheOption()
    {
        await using var file = await JsonFile.WriteAsync("{}");
        using var host = BuildHost(file, (services, _) => services.AddHttpCache("c", o => o.MaxBodySize = -1));

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("CacheOptions.MaxBodySize must be zero or positive");
    }

    [Test]
    public void WithoutHost_InvalidOptions_FailWhenTheCacheIsFirstUsed()
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["C:ExpireAfter"] = "soon" }).Build();
        services.AddHttpCache("origin", configuration.GetSection("C"));
        services.AddHttpClient("origin").AddHttpCaching();
        using var provider = services.BuildServiceProvider();

        var create = () => provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");

        create.Should().Throw<OptionsValidationException>().WithMessage("*C:ExpireAfter: 'soon' is not an expiration*");
    }

    [Test]
    public async Task ClientCache_BoundFromConfiguration_FollowsItsPatterns()
    {
        // The key cannot contain the origin's ':port', so the pattern spans it with '*'.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Caches:Origin:ExpireAfter"] = "10m",
            ["Caches:Origin:UrlsExpireAfter:127.0.0.1*/status"] = "0",
        }).Build();
        var services = new ServiceCollection();
        services.AddHttpCache("origin", configuration.GetSection("Caches:Origin"));
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var u = Unique();

        (await client.GetAsync("/json?u=" + u)).Dispose();
        (await client.GetAsync("/status/200?u=" + u)).Dispose();
        using var json = await client.GetAsync("/json?u=" + u);
        using var status = await client.GetAsync("/status/200?u=" + u);

        json.IsFromCache().Should().BeTrue();
        json.GetCacheInfo().ExpiresAt.Should().BeCloseTo(DateTimeOffset.UtcNow.AddMinutes(10), TimeSpan.FromMinutes(1));
        status.IsFromCache().Should().BeFalse();
    }

    [Test]
    public void CodeAfterConfiguration_OverridesIt()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["C:ExpireAfter"] = "15m" }).Build();

        var options = Resolve(services => services.AddHttpCache(configuration.GetSection("C")).Configure(o => o.ExpireAfter = Expiration.Never));

        options.ExpireAfter.Should().Be(Expiration.Never);
    }

    private static CacheOptions Bind(Dictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return Resolve(services => services.AddHttpCache(configuration.GetSection("CachedHttp")));
    }

    private static CacheOptions Resolve(Action<IServiceCollection> register)
    {
        var services = new ServiceCollection();
        register(services);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IHttpCacheProvider>().GetCache(string.Empty).Options;
    }

    private static IHost BuildHost(JsonFile file, Action<IServiceCollection, IConfiguration> register)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddJsonFile(file.Path, optional: false, reloadOnChange: false);
        register(builder.Services, builder.Configuration);
        return builder.Build();
    }

    private sealed class JsonFile : IAsyncDisposable
    {
        private JsonFile(string path) => Path = path;

        public string Path { get; }

        public static async Task<JsonFile> WriteAsync(string json)
        {
            var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cachedhttp-appsettings-" + Guid.NewGuid().ToString("N") + ".json");
            await File.WriteAllTextAsync(path, json);
            return new JsonFile(path);
        }

        public ValueTask DisposeAsync()
        {
            File.Delete(Path);
            return ValueTask.CompletedTask;
        }
    }
}
