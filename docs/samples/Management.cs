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

    public static async Task ListAsync(CacheBackend cache)
    {
        #region entries
        // Metadata only: bodies are not read where the storage can read the front of a value.
        var now = cache.Options.TimeProvider.GetUtcNow();
        await foreach (var entry in cache.GetEntriesAsync(new CacheEntryFilter { UrlPattern = "api.example.com/v2/*", StatusCodes = [200] }))
        {
            Console.WriteLine($"{entry.Method} {entry.Url} {(int)entry.StatusCode} {entry.BodySize} B ({entry.StoredSize} B stored), " +
                $"age {entry.GetAge(now)}, expires {entry.ExpiresAt?.ToString("u") ?? "never"}, last used {entry.LastUsedAt?.ToString("u") ?? "unknown"}");
        }

        var expired = await cache.CountAsync(new CacheEntryFilter { Expired = true });
        var errors = await cache.GetEntriesAsync(new CacheEntryFilter { Predicate = e => (int)e.StatusCode >= 400 }).ToListAsync();
        #endregion
    }

    public static async Task DeleteAsync(CacheBackend cache, HttpRequestMessage request)
    {
        #region delete
        // Each returns the number of responses deleted; Vary variants and redirect aliases go with them, in batches.
        await cache.DeleteUrlsAsync(["https://example.com/a", "https://example.com/b"]);
        await cache.DeleteRequestsAsync([request]);
        await cache.DeleteManyAsync(["5b1f0c3a9d2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"]);
        await cache.DeleteOlderThanAsync(TimeSpan.FromDays(7));
        await cache.DeleteAsync(new CacheEntryFilter { UrlPattern = "*.example.com/tmp/*", Expired = true });
        await cache.DeleteWhereAsync(entry => entry.BodySize > 10 * 1024 * 1024);
        await cache.DeleteExpiredResponsesAsync();
        #endregion
    }

    public static async Task ResetAsync(CacheBackend cache)
    {
        #region reset
        // New expiry from now for what is stored (as requests-cache's reset_expiration); delete-after times move too.
        await cache.ResetExpirationAsync(TimeSpan.FromHours(1));
        await cache.ResetExpirationAsync(Expiration.Never, new CacheEntryFilter { UrlPattern = "example.com/static/*" });
        await cache.ResetExpirationAsync(Expiration.ExpireImmediately, new CacheEntryFilter { StatusCodes = [404] });
        #endregion
    }

    public static async Task StatisticsAsync(CacheBackend cache)
    {
        #region statistics
        var stats = await cache.GetStatisticsAsync();
        Console.WriteLine($"{stats.ResponseCount} responses ({stats.ExpiredCount} expired), {stats.RedirectCount} redirects, " +
            $"{stats.TotalBytes} bytes ({stats.BodyBytes} of bodies), {stats.UnreadableCount} unreadable");
        #endregion
    }
}
