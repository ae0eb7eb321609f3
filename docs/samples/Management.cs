namespace CachedHttp.Samples;

public static class Management
{
    public static async Task InspectAsync(CacheBackend cache)
    {
        #region inspect
        await foreach (var url in cache.GetUrlsAsync(includeExpired: false))
        {
            Console.WriteLine(url);
        }

        await foreach (var response in cache.GetResponsesAsync())
        {
            Console.WriteLine($"{response.Method} {response.Url} {(int)response.StatusCode} {response.Size} B, expires {response.ExpiresAt}");
        }

        var removed = await cache.DeleteExpiredResponsesAsync();
        await cache.DeleteUrlAsync("https://example.com/items");
        var stored = await cache.HasUrlAsync("https://example.com/items");
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.com/items");
        var key = cache.CreateKey(request);
        var cached = await cache.GetResponseAsync(key);
        await cache.DeleteAsync(key);
        await cache.ClearAsync();
        #endregion
    }
}
