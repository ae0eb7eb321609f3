using System.Diagnostics;
using System.Diagnostics.Metrics;
using CachedHttp.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CachedHttp.Samples;

public static class DependencyInjection
{
    public static void NamedClient(IServiceCollection services)
    {
        #region named-client
        services.AddHttpClient("github", client =>
            {
                client.BaseAddress = new Uri("https://api.github.com/");
                client.DefaultRequestHeaders.UserAgent.ParseAdd("my-app/1.0");
            })
            .AddHttpCaching(options =>
            {
                options.CacheControl = true;
                options.ExpireAfter = TimeSpan.FromMinutes(15);
            });

        // Anywhere: IHttpClientFactory.CreateClient("github") caches every entry point.
        #endregion
    }

    #region typed-client
    public sealed class GitHubClient(HttpClient http)
    {
        public Task<string> GetRepoAsync(string name) => http.GetStringAsync($"repos/{name}");
    }

    public static void TypedClient(IServiceCollection services)
        => services.AddHttpClient<GitHubClient>(c => c.BaseAddress = new Uri("https://api.github.com/"))
            .AddHttpCaching();
    #endregion

    public static void Defaults(IServiceCollection services)
    {
        #region defaults
        // Every client of the app caches, each in a cache named like the client.
        services.ConfigureHttpClientDefaults(builder => builder.AddHttpCaching());
        #endregion
    }

    public static void SharedCache(IServiceCollection services)
    {
        #region shared-cache
        services.AddHttpCache("shared", options => options.ExpireAfter = TimeSpan.FromHours(1));
        services.AddHttpClient("catalog").AddHttpCaching("shared");
        services.AddHttpClient("prices").AddHttpCaching("shared");
        #endregion
    }

    public static void Sqlite(IServiceCollection services)
    {
        #region sqlite
        // The "github" client's cache, in a SQLite file that survives restarts.
        services.AddSqliteHttpCache("~/.cache/my-app/http", options => options.ExpireAfter = TimeSpan.FromHours(1), name: "github");
        services.AddHttpClient("github").AddHttpCaching();
        #endregion
    }

    public static void Backends(IServiceCollection services)
    {
        #region backends
        // Any CacheBackend, created once from the cache's validated options:
        services.AddHttpCache("api")
            .Configure(options => options.ExpireAfter = TimeSpan.FromMinutes(5))
            .UseBackend((serviceProvider, options) => new CacheBackend(options));

        // Or any storage (BaseCache), one for responses and one for redirect aliases:
        services.AddHttpCache("lookups")
            .UseStorage((serviceProvider, options, store) => new InMemoryCache(options.TimeProvider));
        #endregion
    }

    public static void FromConfiguration(IServiceCollection services, IConfiguration configuration)
    {
        #region configuration
        services.AddHttpCache("github", configuration.GetSection("CachedHttp"));
        services.AddHttpClient("github").AddHttpCaching();
        #endregion
    }

    public static void KeepPrimaryHandler(IServiceCollection services, System.Net.IWebProxy proxy)
    {
        #region keep-primary
        services.AddHttpClient("corporate")
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { Proxy = proxy, AllowAutoRedirect = true })
            .AddHttpCaching()
            .ConfigureHttpCaching(options => options.KeepPrimaryHandler = true);
        #endregion
    }

    #region session-factory
    public sealed class Inventory(ICachedSessionFactory sessions)
    {
        public async Task<string> GetAsync(string sku)
        {
            // The "github" client's handlers, cache, BaseAddress, Timeout and default headers.
            using var session = sessions.CreateSession("github");
            return await session.GetStringAsync($"items/{sku}", Expiration.After(TimeSpan.FromSeconds(30)));
        }
    }
    #endregion

    #region inject-cache
    public sealed class CacheAdmin(IHttpCacheProvider caches, [FromKeyedServices("shared")] CacheBackend shared)
    {
        public ValueTask<int> PurgeExpiredAsync() => caches.GetCache("github").DeleteExpiredResponsesAsync();

        public ValueTask ClearSharedAsync() => shared.ClearAsync();
    }
    #endregion

    public static IDisposable Listen()
    {
        #region listen
        var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "CachedHttp")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            Console.WriteLine($"{instrument.Name} += {value}"));
        meters.Start();

        var spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "CachedHttp",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = span => Console.WriteLine($"{span.OperationName} {span.Duration.TotalMilliseconds} ms {span.Status}"),
        };
        ActivitySource.AddActivityListener(spans);
        #endregion
        return meters;
    }
}
