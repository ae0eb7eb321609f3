using System.Net;
using CachedHttp.DependencyInjection;
using CachedHttp.Tests.Integration.Foundation;
using Microsoft.Extensions.DependencyInjection;

namespace CachedHttp.Tests.Integration.DependencyInjection;

/// <summary>AddHttpCaching on IHttpClientFactory clients, over real sockets.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class HttpCachingTests : OriginFixture
{
    [Test]
    public async Task NamedClient_SecondRequest_IsFromCache()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var path = "/json?u=" + Unique();

        using var first = await client.GetAsync(path);
        using var second = await client.GetAsync(path);

        first.IsFromCache().Should().BeFalse();
        second.IsFromCache().Should().BeTrue();
        (await second.Content.ReadAsStringAsync()).Should().Be(await first.Content.ReadAsStringAsync());
        OriginRequests(path).Should().Be(1);
    }

    [Test]
    public async Task NamedClient_ConfigureOptions_AppliesToItsCache()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress)
            .AddHttpCaching(o => o.UrlsExpireAfter["*/status/*"] = Expiration.DoNotCache);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var path = "/status/200?u=" + Unique();

        (await client.GetAsync(path)).Dispose();
        using var second = await client.GetAsync(path);

        second.IsFromCache().Should().BeFalse();
        OriginRequests(path).Should().Be(2);
        provider.GetRequiredService<IHttpCacheProvider>().GetCache("origin").Options.UrlsExpireAfter.Should().ContainKey("*/status/*");
    }

    [Test]
    public async Task TypedClient_SecondRequest_IsFromCache()
    {
        var services = new ServiceCollection();
        services.AddHttpClient<OriginApi>(c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var path = "/json?u=" + Unique();

        var first = await provider.GetRequiredService<OriginApi>().GetAsync(path);
        var second = await provider.GetRequiredService<OriginApi>().GetAsync(path);

        first.Should().BeFalse();
        second.Should().BeTrue();
        OriginRequests(path).Should().Be(1);
    }

    [Test]
    public async Task ConfigureHttpClientDefaults_EveryClient_CachesInItsOwnCache()
    {
        var services = new ServiceCollection();
        services.ConfigureHttpClientDefaults(b => b.AddHttpCaching());
        services.AddHttpClient("a", c => c.BaseAddress = Origin.BaseAddress);
        services.AddHttpClient("b", c => c.BaseAddress = Origin.BaseAddress);
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        var path = "/json?u=" + Unique();

        (await factory.CreateClient("a").GetAsync(path)).Dispose();
        using var fromA = await factory.CreateClient("a").GetAsync(path);
        using var fromB = await factory.CreateClient("b").GetAsync(path);

        fromA.IsFromCache().Should().BeTrue();
        fromB.IsFromCache().Should().BeFalse("each client has a cache named like itself");
        OriginRequests(path).Should().Be(2);
        var caches = provider.GetRequiredService<IHttpCacheProvider>();
        caches.GetCache("a").Should().NotBeSameAs(caches.GetCache("b"));
    }

    [Test]
    public async Task ConfigureHttpClientDefaults_AndClientRegistration_AddOneCachingHandler()
    {
        var services = new ServiceCollection();
        services.ConfigureHttpClientDefaults(b => b.AddHttpCaching());
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching("shared");
        await using var provider = services.BuildServiceProvider();
        var handler = provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler("origin");

        var caching = Pipeline(handler).OfType<CachingHandler>().ToList();

        caching.Should().ContainSingle();
        caching[0].Cache.Should().BeSameAs(provider.GetRequiredService<IHttpCacheProvider>().GetCache("shared"));
    }

    [Test]
    public async Task TwoClients_SharingNamedCache_ShareEntries()
    {
        var services = new ServiceCollection();
        services.AddHttpCache("shared", o => o.ExpireAfter = TimeSpan.FromMinutes(5));
        services.AddHttpClient("a", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching("shared");
        services.AddHttpClient("b", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching("shared");
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        var path = "/json?u=" + Unique();

        (await factory.CreateClient("a").GetAsync(path)).Dispose();
        using var fromB = await factory.CreateClient("b").GetAsync(path);

        fromB.IsFromCache().Should().BeTrue();
        fromB.GetCacheInfo().ExpiresAt.Should().NotBeNull();
        OriginRequests(path).Should().Be(1);
        provider.GetRequiredKeyedService<CacheBackend>("shared").Should().BeSameAs(provider.GetRequiredService<IHttpCacheProvider>().GetCache("shared"));
    }

    [Test]
    public async Task HandlerRotation_NewPipeline_StillHitsSingletonCache()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress)
            .AddHttpCaching()
            .SetHandlerLifetime(TimeSpan.FromSeconds(1)); // the factory's minimum
        await using var provider = services.BuildServiceProvider();
        var handlers = provider.GetRequiredService<IHttpMessageHandlerFactory>();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        var path = "/json?u=" + Unique();

        var firstHandler = CachingHandlerOf(handlers.CreateHandler("origin"));
        (await factory.CreateClient("origin").GetAsync(path)).Dispose();
        CachingHandler secondHandler;
        var rotated = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        do
        {
            await Task.Delay(100);
            secondHandler = CachingHandlerOf(handlers.CreateHandler("origin"));
        }
        while (ReferenceEquals(secondHandler, firstHandler) && DateTime.UtcNow < rotated);
        using var second = await factory.CreateClient("origin").GetAsync(path);

        secondHandler.Should().NotBeSameAs(firstHandler, "the factory rotated the handlers");
        secondHandler.Cache.Should().BeSameAs(firstHandler.Cache);
        second.IsFromCache().Should().BeTrue();
        OriginRequests(path).Should().Be(1);
    }

    [Test]
    public async Task DefaultPrimaryHandler_Redirects_AreAliasedPerHop()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var u = Unique();

        using var first = await client.GetAsync("/redirect/2?u=" + u);
        using var hop = await client.GetAsync("/redirect/1?u=" + u);

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        first.RequestMessage!.RequestUri!.AbsolutePath.Should().Be("/redirect/0");
        hop.IsFromCache().Should().BeTrue("the caching handler followed the redirect and stored an alias for each hop");
        OriginRequests(u).Should().Be(3);
        var caching = CachingHandlerOf(provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler("origin"));
        caching.FollowRedirects.Should().BeTrue();
    }

    [Test]
    public async Task KeepPrimaryHandler_Redirects_FollowedBelowTheCache()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress)
            .AddHttpCaching()
            .ConfigureHttpCaching(o => o.KeepPrimaryHandler = true);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var u = Unique();

        using var first = await client.GetAsync("/redirect/2?u=" + u);
        using var again = await client.GetAsync("/redirect/2?u=" + u);
        using var hop = await client.GetAsync("/redirect/1?u=" + u);

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        again.IsFromCache().Should().BeTrue("the requested URL is stored");
        hop.IsFromCache().Should().BeFalse("the primary handler followed the redirects, so the hops were never seen");
        var caching = CachingHandlerOf(provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler("origin"));
        caching.FollowRedirects.Should().BeFalse();
    }

    [Test]
    public async Task PrimaryHandlerConfiguredAfterwards_Wins_AndCacheDoesNotFollowRedirects()
    {
        var services = new ServiceCollection();
        var mine = 0;
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress)
            .AddHttpCaching()
            .ConfigurePrimaryHttpMessageHandler(() =>
            {
                Interlocked.Increment(ref mine);
                return new HttpClientHandler { AllowAutoRedirect = true };
            });
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var path = "/redirect/1?u=" + Unique();

        using var response = await client.GetAsync(path);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        mine.Should().Be(1);
        var caching = CachingHandlerOf(provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler("origin"));
        caching.FollowRedirects.Should().BeFalse();
    }

    [Test]
    public async Task HandlersAddedAfterCaching_RunOnlyForNetworkRequests()
    {
        var services = new ServiceCollection();
        var counter = new CountingHandler();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress)
            .AddHttpCaching()
            .AddHttpMessageHandler(() => new CountingHandler(counter));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var path = "/json?u=" + Unique();

        (await client.GetAsync(path)).Dispose();
        (await client.GetAsync(path)).Dispose();

        counter.Count.Should().Be(1);
    }

    [Test]
    public async Task UseBackend_FactoryRunsOnce_WithValidatedOptions()
    {
        var services = new ServiceCollection();
        var created = 0;
        CacheOptions? received = null;
        services.AddHttpCache("custom")
            .Configure(o => o.ExpireAfter = TimeSpan.FromMinutes(3))
            .UseBackend((sp, options) =>
            {
                Interlocked.Increment(ref created);
                received = options;
                return new CacheBackend(options);
            });
        services.AddHttpClient("a", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching("custom");
        services.AddHttpClient("b", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching("custom");
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        var path = "/json?u=" + Unique();

        (await factory.CreateClient("a").GetAsync(path)).Dispose();
        using var hit = await factory.CreateClient("b").GetAsync(path);

        hit.IsFromCache().Should().BeTrue();
        created.Should().Be(1);
        received!.ExpireAfter.Should().Be(Expiration.After(TimeSpan.FromMinutes(3)));
    }

    [Test]
    public async Task UseStorage_CreatesBothStores()
    {
        var services = new ServiceCollection();
        var stores = new List<string>();
        services.AddHttpCache("stores").UseStorage((_, options, store) =>
        {
            lock (stores)
            {
                stores.Add(store);
            }

            return new InMemoryCache(options.TimeProvider);
        });
        await using var provider = services.BuildServiceProvider();

        var cache = provider.GetRequiredKeyedService<CacheBackend>("stores");

        stores.Should().BeEquivalentTo(["responses", "redirects"]);
        cache.Responses.Should().NotBeSameAs(cache.Redirects);
    }

    [Test]
    public async Task DefaultCache_IsInjectableAsCacheBackend_AndDisposedWithContainer()
    {
        var services = new ServiceCollection();
        var storage = new DisposalTrackingCache();
        services.AddHttpCache(o => o.ExpireAfter = TimeSpan.FromMinutes(1)).UseStorage((_, _, _) => storage);
        var provider = services.BuildServiceProvider();

        var cache = provider.GetRequiredService<CacheBackend>();
        cache.Should().BeSameAs(provider.GetRequiredService<IHttpCacheProvider>().GetCache(string.Empty));
        await provider.DisposeAsync();

        storage.Disposed.Should().BeTrue();
        var disposed = () => provider.GetRequiredService<IHttpCacheProvider>().GetCache(string.Empty);
        disposed.Should().Throw<ObjectDisposedException>();
    }

    [Test]
    public async Task ConfigureHttpClientDefaults_WithBackendFactory_NamedStorageWins()
    {
        var services = new ServiceCollection();
        var defaults = 0;
        services.AddHttpCache("special").UseMemory();
        services.ConfigureHttpClientDefaults(b => b.AddHttpCaching((_, o) =>
        {
            Interlocked.Increment(ref defaults);
            return new CacheBackend(o);
        }));
        services.AddHttpClient("plain");
        services.AddHttpClient("special-client").AddHttpCaching("special");
        await using var provider = services.BuildServiceProvider();
        var handlers = provider.GetRequiredService<IHttpMessageHandlerFactory>();

        CachingHandlerOf(handlers.CreateHandler("plain"));
        CachingHandlerOf(handlers.CreateHandler("special-client"));

        defaults.Should().Be(1, "only the cache without a storage of its own comes from the defaults' factory");
    }

    [Test]
    public async Task LoggerFactoryAndClock_ComeFromTheContainer()
    {
        var services = new ServiceCollection();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        services.AddLogging();
        services.AddSingleton<TimeProvider>(clock);
        services.AddHttpCache("c");
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredKeyedService<CacheBackend>("c").Options;

        options.TimeProvider.Should().BeSameAs(clock);
        options.LoggerFactory.Should().BeSameAs(provider.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>());
    }

    internal static IEnumerable<HttpMessageHandler> Pipeline(HttpMessageHandler top)
    {
        for (var current = top; current is not null; current = (current as DelegatingHandler)?.InnerHandler)
        {
            yield return current;
        }
    }

    internal static CachingHandler CachingHandlerOf(HttpMessageHandler top) => Pipeline(top).OfType<CachingHandler>().Single();

    private int OriginRequests(string pathOrMarker)
    {
        var marker = pathOrMarker.Contains("u=", StringComparison.Ordinal) ? pathOrMarker[(pathOrMarker.IndexOf("u=", StringComparison.Ordinal) + 2)..] : pathOrMarker;
        return Origin.RecordedRequests.Count(r => r.Query.Contains(marker, StringComparison.Ordinal));
    }

    public sealed class OriginApi(HttpClient client)
    {
        public async Task<bool> GetAsync(string path)
        {
            using var response = await client.GetAsync(path);
            response.EnsureSuccessStatusCode();
            return response.IsFromCache();
        }
    }

    private sealed class CountingHandler(CountingHandler? shared = null) : DelegatingHandler
    {
        private int _count;

        public int Count => _count;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref (shared ?? this)._count);
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class DisposalTrackingCache : InMemoryCache
    {
        public bool Disposed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
