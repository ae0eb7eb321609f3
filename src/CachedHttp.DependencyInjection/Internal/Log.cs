using Microsoft.Extensions.Logging;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>Source-generated log messages with fixed event ids (100-199; the core uses 1-99). No keys or URLs.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "HTTP cache '{CacheName}' created over storage '{Storage}'")]
    public static partial void CacheCreated(ILogger logger, string cacheName, string storage);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "Caching handler added to HttpClient '{ClientName}' (storage '{Storage}', follows redirects: {FollowRedirects})")]
    public static partial void HandlerAdded(ILogger logger, string clientName, string storage, bool followRedirects);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "HttpClient '{ClientName}': a primary handler configured after AddHttpCaching replaced the cache's; the cache does not follow redirects and sees only final responses (set HttpClientCachingOptions.KeepPrimaryHandler to say this is intended)")]
    public static partial void PrimaryHandlerReplaced(ILogger logger, string clientName);
}
