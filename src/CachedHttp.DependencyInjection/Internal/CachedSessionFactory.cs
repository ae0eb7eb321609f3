using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>Sessions over the factory's pipeline of a named client, configured like the client.</summary>
internal sealed class CachedSessionFactory(IHttpMessageHandlerFactory handlers, IOptionsMonitor<HttpClientFactoryOptions> clientOptions) : ICachedSessionFactory
{
    public CachedSession CreateSession(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var pipeline = handlers.CreateHandler(name);
        if (!HasCachingHandler(pipeline))
        {
            throw new InvalidOperationException($"The HttpClient '{name}' has no caching handler: call AddHttpCaching() on its IHttpClientBuilder (or on ConfigureHttpClientDefaults).");
        }

        // The factory owns the pipeline (it disposes it after rotation), and the container owns the cache.
        var session = new CachedSession(pipeline, disposeHandler: false);
        foreach (var configure in clientOptions.Get(name).HttpClientActions)
        {
            configure(session);
        }

        return session;
    }

    private static bool HasCachingHandler(HttpMessageHandler pipeline)
    {
        for (var current = pipeline; current is not null; current = (current as DelegatingHandler)?.InnerHandler)
        {
            if (current is CachingHandler)
            {
                return true;
            }
        }

        return false;
    }
}
