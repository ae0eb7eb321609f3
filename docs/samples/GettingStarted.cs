namespace CachedHttp.Samples;

public static class GettingStarted
{
    public static async Task BasicsAsync()
    {
        #region basics
        using var session = new CachedSession();                          // in-memory backend
        using var first = await session.GetAsync("https://example.com/items");
        using var again = await session.GetAsync("https://example.com/items");
        Console.WriteLine(again.IsFromCache());                          // True: no request was sent
        Console.WriteLine(again.GetCacheInfo().CreatedAt);
        #endregion
    }

    public static async Task OptionsAsync()
    {
        #region options
        var backend = new CacheBackend(new CacheOptions
        {
            ExpireAfter = TimeSpan.FromMinutes(15),
            UrlsExpireAfter =
            {
                ["example.com/static"] = Expiration.Never,
                ["*.example.com/live"] = Expiration.DoNotCache,
            },
            AllowedCodes = { 200, 203 },
            IgnoredParameters = { "api_key" },
            CacheControl = true,
        });
        using var session = new CachedSession(backend);
        #endregion
        await Task.CompletedTask;
    }

    public static async Task PerRequestAsync(CachedSession session)
    {
        #region per-request
        using var quote = await session.GetAsync("https://example.com/quote", Expiration.After(TimeSpan.FromSeconds(30)));

        using var refresh = new HttpRequestMessage(HttpMethod.Get, "https://example.com/items").SetRefresh();
        using var revalidated = await session.SendAsync(refresh);      // conditional request; a 304 serves the stored body

        using var force = new HttpRequestMessage(HttpMethod.Get, "https://example.com/items").SetForceRefresh();
        using var fetched = await session.SendAsync(force);            // skips the stored response, stores the new one

        using (session.Disabled())
        {
            using var live = await session.GetAsync("https://example.com/never-cached");
        }
        #endregion
    }

    public static HttpClient AnyClient()
    {
        #region handler
        var backend = new CacheBackend();                                  // share one backend (a singleton)
        var client = new HttpClient(new CachingHandler(backend));          // caches every HttpClient entry point
        #endregion
        return client;
    }
}
