using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>
/// The caching handler that <c>AddHttpCaching</c> puts in a factory pipeline; it remembers the primary handler it
/// installed, so that the last step of the build can tell whether that one is still in place.
/// </summary>
internal sealed class FactoryCachingHandler(CacheBackend cache) : CachingHandler(cache, followRedirects: false)
{
    public SocketsHttpHandler? InstalledPrimaryHandler { get; init; }
}

/// <summary>
/// The builder action of <c>AddHttpCaching</c>: adds one caching handler at its place in the client's pipeline (once,
/// however many times <c>AddHttpCaching</c> applies to the client) and, unless the client keeps its primary handler,
/// installs a primary handler that does not follow redirects.
/// </summary>
internal sealed class CachingHandlerAction
{
    public static readonly CachingHandlerAction Instance = new();

    private CachingHandlerAction()
    {
    }

    /// <summary>Creates the primary handler installed by default: <see cref="CachingHandler.CreateDefaultInnerHandler"/> without its own cookie container and connection lifetime, which the factory's rotation replaces.</summary>
    public static SocketsHttpHandler CreatePrimaryHandler() => new()
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.All,
    };

    public void Apply(HttpMessageHandlerBuilder builder)
    {
        if (builder.AdditionalHandlers.Any(h => h is FactoryCachingHandler))
        {
            return;
        }

        var clientName = builder.Name ?? Options.DefaultName;
        var caching = builder.Services.GetRequiredService<IOptionsMonitor<HttpClientCachingOptions>>().Get(clientName);
        var cache = builder.Services.GetRequiredService<IHttpCacheProvider>().GetCache(caching.CacheName ?? clientName);
        SocketsHttpHandler? primary = null;
        if (!caching.KeepPrimaryHandler)
        {
            primary = CreatePrimaryHandler();
            builder.PrimaryHandler = primary;
        }

        builder.AdditionalHandlers.Add(new FactoryCachingHandler(cache) { InstalledPrimaryHandler = primary });
    }
}

/// <summary>
/// Appends, after every other configuration of a client that has <c>AddHttpCaching</c>, the step that decides whether
/// its caching handler follows redirects: only when the primary handler it installed is still the one in place (a
/// primary handler configured later wins, as usual with <c>IHttpClientFactory</c>, and may follow redirects itself).
/// </summary>
internal sealed class CachingHandlerFinalizer(ILoggerFactory? loggerFactory = null) : IPostConfigureOptions<HttpClientFactoryOptions>
{
    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("CachedHttp.DependencyInjection");

    public void PostConfigure(string? name, HttpClientFactoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.HttpMessageHandlerBuilderActions.Any(a => a.Target is CachingHandlerAction))
        {
            options.HttpMessageHandlerBuilderActions.Add(Finish);
        }
    }

    private void Finish(HttpMessageHandlerBuilder builder)
    {
        var clientName = builder.Name ?? Options.DefaultName;
        foreach (var handler in builder.AdditionalHandlers.OfType<FactoryCachingHandler>())
        {
            var installed = handler.InstalledPrimaryHandler;
            var inPlace = installed is not null && ReferenceEquals(builder.PrimaryHandler, installed);
            handler.FollowRedirects = inPlace && !installed!.AllowAutoRedirect;
            if (installed is not null && !inPlace)
            {
                Log.PrimaryHandlerReplaced(_logger, clientName);
                installed.Dispose();
            }

            Log.HandlerAdded(_logger, clientName, handler.Cache.Name, handler.FollowRedirects);
        }
    }
}
