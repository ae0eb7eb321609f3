using System.Runtime.CompilerServices;

namespace CachedHttp;

/// <summary>Per-request cache settings, stored in <see cref="HttpRequestMessage.Options"/>.</summary>
public static class HttpRequestMessageCacheExtensions
{
    internal static readonly HttpRequestOptionsKey<Expiration> ExpireAfterKey = new("CachedHttp.ExpireAfter");
    internal static readonly HttpRequestOptionsKey<bool> RefreshKey = new("CachedHttp.Refresh");
    internal static readonly HttpRequestOptionsKey<bool> ForceRefreshKey = new("CachedHttp.ForceRefresh");
    internal static readonly HttpRequestOptionsKey<bool> OnlyIfCachedKey = new("CachedHttp.OnlyIfCached");

    /// <summary>Sets the expiration of this request's response, overriding URL patterns and the session default.</summary>
    /// <returns>The same request, for chaining.</returns>
    public static HttpRequestMessage SetExpireAfter(this HttpRequestMessage request, Expiration expireAfter)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(expireAfter);
        request.Options.Set(ExpireAfterKey, expireAfter);
        return request;
    }

    /// <summary>Revalidates a stored response with a conditional request (If-None-Match / If-Modified-Since) even if fresh; a 304 serves the stored body.</summary>
    /// <returns>The same request, for chaining.</returns>
    public static HttpRequestMessage SetRefresh(this HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Options.Set(RefreshKey, true);
        return request;
    }

    /// <summary>Skips the cached response, fetches a new one and stores it.</summary>
    /// <returns>The same request, for chaining.</returns>
    public static HttpRequestMessage SetForceRefresh(this HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Options.Set(ForceRefreshKey, true);
        return request;
    }

    /// <summary>Answers only from the cache: a 504 Gateway Timeout when nothing suitable is stored (offline mode).</summary>
    /// <returns>The same request, for chaining.</returns>
    public static HttpRequestMessage SetOnlyIfCached(this HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Options.Set(OnlyIfCachedKey, true);
        return request;
    }

    /// <summary>Gets the expiration set with <see cref="SetExpireAfter"/>, if any.</summary>
    public static Expiration? GetExpireAfter(this HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Options.TryGetValue(ExpireAfterKey, out var value) ? value : null;
    }
}

/// <summary>Cache information of responses.</summary>
public static class HttpResponseMessageCacheExtensions
{
    private static readonly ConditionalWeakTable<HttpResponseMessage, CacheInfo> Infos = new();

    /// <summary>Tells whether the response was served from the cache.</summary>
    public static bool IsFromCache(this HttpResponseMessage response) => response.GetCacheInfo().FromCache;

    /// <summary>Gets what the cache knows of the response; <see cref="CacheInfo.None"/> if it did not pass through a cache.</summary>
    public static CacheInfo GetCacheInfo(this HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response is ServedResponseMessage { Info: { } served })
        {
            return served;
        }

        return Infos.TryGetValue(response, out var info) ? info : CacheInfo.None;
    }

    /// <summary>
    /// Attaches the cache information: in a field of a response the cache built (no table entry, which costs a GC
    /// handle per response), else in a weak table keyed by the live response.
    /// </summary>
    internal static void SetCacheInfo(this HttpResponseMessage response, CacheInfo info)
    {
        if (response is ServedResponseMessage served)
        {
            served.Info = info;
            return;
        }

        Infos.AddOrUpdate(response, info);
    }
}

/// <summary>A response message the cache built from a stored response; it carries its <see cref="CacheInfo"/> itself.</summary>
internal sealed class ServedResponseMessage(System.Net.HttpStatusCode statusCode) : HttpResponseMessage(statusCode)
{
    public CacheInfo? Info { get; set; }
}
