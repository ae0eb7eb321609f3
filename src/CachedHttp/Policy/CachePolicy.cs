using CachedHttp.Internal;

namespace CachedHttp.Policy;

/// <summary>Per-request settings read from <see cref="HttpRequestMessage.Options"/>.</summary>
internal sealed record RequestSettings(Expiration? ExpireAfter, bool Refresh, bool ForceRefresh, bool OnlyIfCached)
{
    public static readonly RequestSettings None = new(null, false, false, false);
}

/// <summary>What the request phase decided (the decision record of ARCHITECTURE.md).</summary>
internal sealed record CacheActions(
    bool SkipRead,
    bool SkipWrite,
    bool Revalidate,
    bool OnlyIfCached,
    Expiration Expiration,
    bool ExpirationIsExplicit,
    CacheControlDirectives Request);

/// <summary>How a stored response may be used for a request.</summary>
internal enum StoredUse
{
    /// <summary>Fresh enough: serve it.</summary>
    Fresh,

    /// <summary>Stale but the request allows it (max-stale): serve it.</summary>
    StaleAllowed,

    /// <summary>Stale within a stale-while-revalidate window: serve it and revalidate in the background.</summary>
    StaleWhileRevalidate,

    /// <summary>Must be validated with the origin before use (conditional request).</summary>
    Revalidate,

    /// <summary>Cannot be used; fetch a new response.</summary>
    Unusable,
}

/// <summary>What to do with a response from the origin.</summary>
internal readonly record struct StoragePlan(bool Store, DateTimeOffset? ExpiresAt, DateTimeOffset? DeleteAfter, string? Reason)
{
    public static StoragePlan No(string reason) => new(false, null, null, reason);
}

/// <summary>
/// The caching rules as pure functions: no I/O, time passed in. Each branch cites the RFC 9111 section it implements.
/// </summary>
internal static class CachePolicy
{
    /// <summary>Statuses that are heuristically cacheable (RFC 9110 §15.1).</summary>
    private static readonly HashSet<int> HeuristicallyCacheable = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

    public static CacheActions ForRequest(HttpRequestMessage request, CacheOptions options, RequestSettings settings)
    {
        var pattern = UrlPatterns.Match(options.UrlsExpireAfter, request.RequestUri!);
        var expiration = settings.ExpireAfter ?? pattern ?? options.ExpireAfter;
        var isExplicit = settings.ExpireAfter is not null || pattern is not null || options.ExpireAfterIsSet;
        var skip = expiration.Kind == ExpirationKind.DoNotCache || !options.AllowedMethods.Contains(request.Method.Method);
        var skipRead = skip || settings.ForceRefresh;
        var skipWrite = skip;
        var revalidate = settings.Refresh;
        var onlyIfCached = settings.OnlyIfCached;
        var directives = CacheControlDirectives.None;

        if (options.CacheControl)
        {
            directives = CacheControlDirectives.Parse(HeaderConversions.GetJoined(request, "Cache-Control"));

            // §5.4: Pragma: no-cache counts as Cache-Control: no-cache only when there is no Cache-Control.
            if (directives.IsEmpty && HeaderConversions.GetJoined(request, "Pragma") is { } pragma
                && pragma.Contains("no-cache", StringComparison.OrdinalIgnoreCase))
            {
                directives = CacheControlDirectives.Parse("no-cache");
            }

            // §5.2.1.5: no-store — neither store this response nor (as the original does) read for it.
            if (directives.NoStore)
            {
                skipRead = skipWrite = true;
            }

            // §5.2.1.4: no-cache — a stored response must be validated before use.
            revalidate |= directives.NoCache;

            // §5.2.1.7: only-if-cached.
            onlyIfCached |= directives.OnlyIfCached;
        }

        return new CacheActions(skipRead, skipWrite, revalidate, onlyIfCached, expiration, isExplicit, directives);
    }

    /// <summary>The corrected initial age of a response (§4.2.3).</summary>
    public static TimeSpan CorrectedInitialAge(CachedHeaders headers, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var dateValue = HttpDate.TryParse(headers.GetValue("Date"), out var date) ? date : responseTime;
        var apparentAge = Max(TimeSpan.Zero, responseTime - dateValue);
        var ageValue = ParseAge(headers.GetValue("Age"));
        var responseDelay = Max(TimeSpan.Zero, responseTime - (requestTime == default ? responseTime : requestTime));
        var correctedAgeValue = ageValue + responseDelay;
        return Max(apparentAge, correctedAgeValue);
    }

    /// <summary>The current age of a stored response at <paramref name="now"/> (§4.2.3).</summary>
    public static TimeSpan CurrentAge(CachedResponse response, DateTimeOffset now)
        => CorrectedInitialAge(response.Headers, response.RequestTime, response.CreatedAt) + Max(TimeSpan.Zero, now - response.CreatedAt);

    /// <summary>Decides whether and until when a response from the origin is stored.</summary>
    public static StoragePlan ForResponse(CachedResponse response, CacheActions actions, CacheOptions options)
    {
        if (actions.SkipWrite)
        {
            return StoragePlan.No("caching is off for this request");
        }

        if (!options.AllowedMethods.Contains(response.Method))
        {
            return StoragePlan.No("method not allowed");
        }

        if (!options.AllowedCodes.Contains((int)response.StatusCode))
        {
            return StoragePlan.No("status not allowed");
        }

        // §4.1: a Vary of "*" never matches, so storing it is useless.
        if (response.Headers.GetValue("Vary") is { } vary && vary.Split(',').Any(v => v.Trim() == "*"))
        {
            return StoragePlan.No("Vary: *");
        }

        var now = response.CreatedAt;
        DateTimeOffset? expiresAt;
        var retention = Max(options.StaleIfError ?? TimeSpan.Zero, options.StaleWhileRevalidate ?? TimeSpan.Zero);

        if (!options.CacheControl)
        {
            expiresAt = actions.Expiration.GetExpiresAt(now);
        }
        else
        {
            var directives = CacheControlDirectives.Parse(response.Headers.GetValue("Cache-Control"));

            // §3 (and §5.2.2.5): no-store forbids storing.
            if (directives.NoStore)
            {
                return StoragePlan.No("response no-store");
            }

            // §3: must-understand with a status we do not know the caching rules of.
            if (directives.MustUnderstand && !HeuristicallyCacheable.Contains((int)response.StatusCode) && (int)response.StatusCode is not (302 or 307))
            {
                return StoragePlan.No("must-understand");
            }

            retention = Max(retention, Max(directives.StaleIfError ?? TimeSpan.Zero, directives.StaleWhileRevalidate ?? TimeSpan.Zero));
            var initialAge = CorrectedInitialAge(response.Headers, response.RequestTime, response.CreatedAt);
            var origin = now - initialAge;

            if (directives.NoCache)
            {
                // §5.2.2.4: store, but never serve without validation.
                expiresAt = now;
            }
            else if (ExplicitLifetime(directives, response.Headers, response.ContentHeaders, response.CreatedAt) is { } lifetime)
            {
                // §4.2.1: max-age (s-maxage ignored: this is a private cache), else Expires - Date.
                expiresAt = origin + lifetime;
            }
            else if (actions.Request.MaxAge is { } requestMaxAge && !actions.Request.NoCache)
            {
                // The original library: a request max-age sets the expiration of what it stores.
                expiresAt = now + requestMaxAge;
            }
            else if (actions.ExpirationIsExplicit)
            {
                expiresAt = actions.Expiration.GetExpiresAt(now);
            }
            else if (options.HeuristicFreshness && HeuristicLifetime(response, directives, options) is { } heuristic)
            {
                // §4.2.2: heuristic freshness from Last-Modified.
                expiresAt = origin + heuristic;
            }
            else
            {
                // No freshness information: stored stale, usable after validation (or stale-if-error).
                expiresAt = now;
            }

            if (expiresAt <= now && !response.HasValidators && retention == TimeSpan.Zero)
            {
                return StoragePlan.No("no freshness and no validator");
            }
        }

        if (expiresAt is { } expires && response.HasValidators)
        {
            retention = Max(retention, options.StaleRetention);
        }

        return new StoragePlan(true, expiresAt, expiresAt + retention, null);
    }

    /// <summary>Decides how a stored response may be used for a request at <paramref name="now"/>.</summary>
    public static StoredUse Evaluate(CachedResponse stored, CacheActions actions, CacheOptions options, DateTimeOffset now)
    {
        if (!options.CacheControl)
        {
            if (actions.Revalidate)
            {
                return stored.HasValidators ? StoredUse.Revalidate : StoredUse.Unusable;
            }

            if (!stored.IsExpired(now))
            {
                return StoredUse.Fresh;
            }

            if (options.StaleWhileRevalidate is { } staleWindow && stored.ExpiresAt + staleWindow > now)
            {
                return StoredUse.StaleWhileRevalidate;
            }

            return stored.HasValidators ? StoredUse.Revalidate : StoredUse.Unusable;
        }

        var response = CacheControlDirectives.Parse(stored.Headers.GetValue("Cache-Control"));
        var request = actions.Request;
        var age = CurrentAge(stored, now);
        var initialAge = CorrectedInitialAge(stored.Headers, stored.RequestTime, stored.CreatedAt);
        var lifetime = stored.ExpiresAt is { } expires ? expires - (stored.CreatedAt - initialAge) : TimeSpan.MaxValue;
        var validate = stored.HasValidators ? StoredUse.Revalidate : StoredUse.Unusable;

        // §5.2.1.4 / §5.2.2.4: no-cache in the request or the response: validate first.
        if (actions.Revalidate || response.NoCache)
        {
            return validate;
        }

        var fresh = age < lifetime;

        // §5.2.1.1: request max-age — the response must be no older.
        if (request.MaxAge is { } maxAge && age > maxAge)
        {
            fresh = false;
        }

        // §5.2.1.3: min-fresh — it must stay fresh at least that long.
        if (fresh && request.MinFresh is { } minFresh && lifetime != TimeSpan.MaxValue && lifetime - age < minFresh)
        {
            fresh = false;
        }

        if (fresh)
        {
            return StoredUse.Fresh;
        }

        // §4.2.4 and §5.2.2.2: must-revalidate (and no-cache, above) forbid serving stale.
        var mayServeStale = !response.MustRevalidate;
        var staleness = lifetime == TimeSpan.MaxValue ? TimeSpan.Zero : age - lifetime;

        // §5.2.1.2: max-stale.
        if (mayServeStale && request.MaxStale is { } maxStale && staleness <= maxStale && request.MaxAge is null)
        {
            return StoredUse.StaleAllowed;
        }

        // RFC 5861 §3: stale-while-revalidate.
        var swr = response.StaleWhileRevalidate ?? options.StaleWhileRevalidate;
        if (mayServeStale && swr is { } window && staleness <= window && request.MaxAge is null && request.MinFresh is null)
        {
            return StoredUse.StaleWhileRevalidate;
        }

        return validate;
    }

    /// <summary>Tells whether a stale response may be served after an error (RFC 5861 §4, RFC 9111 §4.2.4).</summary>
    public static bool MayServeStaleOnError(CachedResponse stored, CacheOptions options, DateTimeOffset now)
    {
        if (!stored.IsExpired(now))
        {
            return true;
        }

        var response = options.CacheControl ? CacheControlDirectives.Parse(stored.Headers.GetValue("Cache-Control")) : CacheControlDirectives.None;
        if (response.MustRevalidate || response.NoCache)
        {
            return false;
        }

        var window = response.StaleIfError ?? options.StaleIfError;
        return window is { } w && stored.ExpiresAt + w >= now;
    }

    /// <summary>§4.2.1: the explicit freshness lifetime, or null when the response has none.</summary>
    internal static TimeSpan? ExplicitLifetime(CacheControlDirectives directives, CachedHeaders headers, CachedHeaders contentHeaders, DateTimeOffset? receivedAt = null)
    {
        if (directives.MaxAge is { } maxAge)
        {
            return maxAge;
        }

        var expiresText = contentHeaders.GetValue("Expires") ?? headers.GetValue("Expires");
        if (expiresText is null)
        {
            return null;
        }

        // §5.3: an invalid Expires (e.g. "0") means already expired.
        if (!HttpDate.TryParse(expiresText, out var expiresAt))
        {
            return TimeSpan.Zero;
        }

        // §4.2.1: without a Date, Expires is compared with the time the response was received.
        var date = HttpDate.TryParse(headers.GetValue("Date"), out var d) ? d : receivedAt;
        return date is null ? null : Max(TimeSpan.Zero, expiresAt - date.Value);
    }

    private static TimeSpan? HeuristicLifetime(CachedResponse response, CacheControlDirectives directives, CacheOptions options)
    {
        if (!HeuristicallyCacheable.Contains((int)response.StatusCode) && !directives.Public)
        {
            return null;
        }

        if (response.LastModified is not { } lastModified)
        {
            return null;
        }

        var date = HttpDate.TryParse(response.Headers.GetValue("Date"), out var d) ? d : response.CreatedAt;
        var sinceModified = date - lastModified;
        if (sinceModified <= TimeSpan.Zero)
        {
            return null;
        }

        var heuristic = sinceModified * options.HeuristicFraction;
        return heuristic > options.HeuristicMaxAge ? options.HeuristicMaxAge : heuristic;
    }

    private static TimeSpan ParseAge(string? value)
    {
        // §5.1: Age is delta-seconds; an invalid value is ignored.
        if (value is null)
        {
            return TimeSpan.Zero;
        }

        var first = value.Split(',')[0].Trim();
        return first.Length > 0 && first.All(char.IsAsciiDigit) && long.TryParse(first, out var seconds)
            ? TimeSpan.FromSeconds(Math.Min(seconds, 2147483648L))
            : TimeSpan.Zero;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
