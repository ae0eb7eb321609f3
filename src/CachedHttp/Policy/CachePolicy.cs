using System.Globalization;
using CachedHttp.Internal;

namespace CachedHttp.Policy;

/// <summary>Per-request settings read from <see cref="HttpRequestMessage.Options"/>.</summary>
internal sealed record RequestSettings(Expiration? ExpireAfter, bool Refresh, bool ForceRefresh, bool OnlyIfCached)
{
    public static readonly RequestSettings None = new(null, false, false, false);
}

/// <summary>What the request phase decided (the decision record of ARCHITECTURE.md).</summary>
/// <param name="SkipRead">Do not use a stored response.</param>
/// <param name="SkipWrite">Do not store the response.</param>
/// <param name="Revalidate">Validate a stored response before use (<c>SetRefresh()</c>, or request <c>no-cache</c>).</param>
/// <param name="OnlyIfCached">Answer from the cache or with a 504.</param>
/// <param name="Expiration">The expiration from per-request settings, URL patterns or the session default.</param>
/// <param name="ExpirationIsExplicit">Whether the user set <paramref name="Expiration"/> (else it is the default).</param>
/// <param name="Request">The request's Cache-Control directives (empty unless <see cref="CacheOptions.CacheControl"/>).</param>
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

/// <summary>The outcome of evaluating a caller's own <c>If-None-Match</c> / <c>If-Modified-Since</c> against a stored response.</summary>
internal enum PreconditionOutcome
{
    /// <summary>The preconditions cannot be evaluated by the cache: forward the request.</summary>
    NotApplicable,

    /// <summary>The stored response matches: answer 304 Not Modified.</summary>
    NotModified,

    /// <summary>The stored response does not match: answer with the stored response itself.</summary>
    Modified,
}

/// <summary>What to do with a response from the origin.</summary>
internal readonly record struct StoragePlan(bool Store, DateTimeOffset? ExpiresAt, DateTimeOffset? DeleteAfter, string? Reason)
{
    public static StoragePlan No(string reason) => new(false, null, null, reason);
}

/// <summary>
/// The caching rules as pure functions: no I/O, time passed in. Each branch cites the RFC 9111 (or RFC 5861, RFC 8246)
/// section it implements. With <see cref="CacheOptions.CacheControl"/> off only the options decide; with it on, this is
/// an RFC 9111 private cache (see docs/rfc9111-compliance.md).
/// </summary>
internal static class CachePolicy
{
    /// <summary>The precondition fields of RFC 9110 §13.1.</summary>
    private static readonly HashSet<string> ConditionalHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range",
    };

    /// <summary>Statuses that are heuristically cacheable (RFC 9110 §15.1). 206 is left out: partial content is never stored.</summary>
    private static readonly HashSet<int> HeuristicallyCacheable = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

    /// <summary>Statuses whose caching requirements this cache implements (for must-understand, §5.2.2.3).</summary>
    private static readonly HashSet<int> UnderstoodStatuses = [200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 410, 414, 500, 501, 502, 503, 504];

    /// <summary>The errors of RFC 5861 §4: "any situation that would result in a 500, 502, 503, or 504".</summary>
    private static readonly HashSet<int> StaleIfErrorStatuses = [500, 502, 503, 504];

    /// <summary>
    /// Fields never stored (§3.1): connection-specific fields (RFC 9110 §7.6.1) and fields of the proxy the cache forwards
    /// through. The fields a <c>Connection</c> header names are removed too.
    /// </summary>
    private static readonly HashSet<string> NotStoredFields = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization",
    };

    /// <summary>Fields a 304 or HEAD response does not update (§3.2): Content-Length, and what the stored body depends on.</summary>
    private static readonly HashSet<string> NotUpdatedFields = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Length", "Content-Encoding", "Content-Range",
    };

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
            var cacheControl = HeaderConversions.GetJoined(request, "Cache-Control");
            directives = CacheControlDirectives.Parse(cacheControl);

            // §5.4: Pragma: no-cache counts as Cache-Control: no-cache only when the request has no Cache-Control.
            if (cacheControl is null && HasPragmaNoCache(HeaderConversions.GetJoined(request, "Pragma")))
            {
                directives = CacheControlDirectives.Parse("no-cache");
            }

            // §5.2.1.5: no-store — never store; a stored response is not read either (allowed: the cache "MAY" serve one).
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

    /// <summary>RFC 9110 §13.1: whether the request carries a precondition of its own (a loop: this runs on every request).</summary>
    public static bool HasConditionalHeader(System.Net.Http.Headers.HttpRequestHeaders headers)
    {
        foreach (var header in headers.NonValidated)
        {
            if (ConditionalHeaders.Contains(header.Key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>§5.4: whether a Pragma field value holds the <c>no-cache</c> pragma directive.</summary>
    internal static bool HasPragmaNoCache(string? pragma)
        => pragma is not null && pragma.Split(',').Any(p => p.Trim().Equals("no-cache", StringComparison.OrdinalIgnoreCase));

    /// <summary>The corrected initial age of a response (§4.2.3), at most 2^31 seconds (§1.2.2).</summary>
    public static TimeSpan CorrectedInitialAge(CachedHeaders headers, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var dateValue = HttpDate.TryParse(headers.GetValue("Date"), out var date) ? date : responseTime;
        var apparentAge = Max(TimeSpan.Zero, responseTime - dateValue);
        var ageValue = ParseAge(headers);
        var responseDelay = Max(TimeSpan.Zero, responseTime - (requestTime == default ? responseTime : requestTime));
        var correctedAgeValue = ageValue + responseDelay;
        return Min(Max(apparentAge, correctedAgeValue), CacheControlDirectives.MaxDeltaSeconds);
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

        // AllowedCodes stays the gate in both modes: RFC 9111 says what MAY be stored, the user says what is wanted.
        var status = (int)response.StatusCode;
        if (!options.AllowedCodes.Contains(status))
        {
            return StoragePlan.No("status not allowed");
        }

        // §4.1: a Vary of "*" never matches, so storing it is useless.
        if (HasVaryStar(response.Headers))
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
            // §3 (and §3.3, §4.3.4): a 206 or a 304 is never stored as a response; partial content is not implemented.
            if (status is 206 or 304)
            {
                return StoragePlan.No("partial or 304 response");
            }

            var directives = CacheControlDirectives.Parse(response.Headers.GetValue("Cache-Control"));

            // §5.2.2.3: must-understand — store only a status whose caching rules we implement, and then ignore no-store.
            if (directives.MustUnderstand)
            {
                if (!UnderstoodStatuses.Contains(status))
                {
                    return StoragePlan.No("must-understand with a status not understood");
                }
            }
            else if (directives.NoStore)
            {
                // §3 and §5.2.2.5: no-store forbids storing.
                return StoragePlan.No("response no-store");
            }

            var hasExpires = GetExpires(response.Headers, response.ContentHeaders) is not null;

            // §3: the response must carry something that allows storing. An expiration the user configured counts as the
            // out-of-band permission of §3 ("a cache extension that allows it to be cached").
            if (!(directives.Public || directives.Private || directives.MaxAge is not null || hasExpires
                || HeuristicallyCacheable.Contains(status) || actions.ExpirationIsExplicit || actions.Request.MaxAge is not null))
            {
                return StoragePlan.No("no explicit freshness and not heuristically cacheable");
            }

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
                expiresAt = SafeAdd(origin, lifetime);
            }
            else if (actions.Request.MaxAge is { } requestMaxAge && !actions.Request.NoCache)
            {
                // The original library: a request max-age sets the expiration of what it stores.
                expiresAt = SafeAdd(now, requestMaxAge);
            }
            else if (actions.ExpirationIsExplicit)
            {
                // Per-request expiration, then URL pattern, then the session default the user set.
                expiresAt = actions.Expiration.GetExpiresAt(now);
            }
            else if (options.HeuristicFreshness && HeuristicLifetime(response, directives, options) is { } heuristic)
            {
                // §4.2.2: heuristic freshness from Last-Modified, only without explicit freshness.
                expiresAt = SafeAdd(origin, heuristic);
            }
            else
            {
                // No freshness information: stored stale, usable after validation (or stale-if-error).
                expiresAt = now;
            }

            // §4.2.4: must-revalidate and no-cache forbid serving it stale, so stale windows do not keep it.
            retention = directives.MustRevalidate || directives.NoCache
                ? TimeSpan.Zero
                : Max(retention, Max(directives.StaleIfError ?? TimeSpan.Zero, directives.StaleWhileRevalidate ?? TimeSpan.Zero));

            if (expiresAt <= now && !response.HasValidators && retention == TimeSpan.Zero)
            {
                return StoragePlan.No("no freshness and no validator");
            }
        }

        if (expiresAt is not null && response.HasValidators)
        {
            retention = Max(retention, options.StaleRetention);
        }

        return new StoragePlan(true, expiresAt, expiresAt is { } e ? SafeAdd(e, retention) : null, null);
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

        // §4.1: a stored response with Vary: * never matches a request.
        if (HasVaryStar(stored.Headers))
        {
            return StoredUse.Unusable;
        }

        var response = CacheControlDirectives.Parse(stored.Headers.GetValue("Cache-Control"));
        var request = actions.Request;
        var age = CurrentAge(stored, now);
        var lifetime = FreshnessLifetime(stored);
        var validate = stored.HasValidators ? StoredUse.Revalidate : StoredUse.Unusable;

        // §4.2: fresh while the current age is below the freshness lifetime.
        var fresh = age < lifetime;

        // §5.2.1.4 / §5.2.2.4: no-cache in the request or the response: validate first.
        if (request.NoCache || response.NoCache)
        {
            return validate;
        }

        // SetRefresh(): validate first — except a fresh immutable response, which a reload need not revalidate (RFC 8246 §2).
        if (actions.Revalidate && !(fresh && response.Immutable))
        {
            return validate;
        }

        // §5.2.1.1: request max-age — the response must be no older.
        var ageAcceptable = request.MaxAge is not { } maxAge || age <= maxAge;

        // §5.2.1.3: min-fresh — it must stay fresh at least that long.
        var freshEnough = request.MinFresh is not { } minFresh || lifetime == TimeSpan.MaxValue || lifetime - age >= minFresh;

        if (fresh && ageAcceptable && freshEnough)
        {
            return StoredUse.Fresh;
        }

        if (fresh)
        {
            return validate;
        }

        // §4.2.4 and §5.2.2.2: must-revalidate (and no-cache, above) forbid serving stale. proxy-revalidate and s-maxage
        // bind shared caches only (§5.2.2.8, §5.2.2.10).
        var mayServeStale = !response.MustRevalidate;
        var staleness = age - lifetime;

        // §5.2.1.2: max-stale (with or without a value); a request max-age still bounds the age.
        if (mayServeStale && request.MaxStale is { } maxStale && staleness <= maxStale && ageAcceptable && request.MinFresh is null)
        {
            return StoredUse.StaleAllowed;
        }

        // RFC 5861 §3: stale-while-revalidate (the response's directive, else the option); not when the request asks for fresh.
        var swr = response.StaleWhileRevalidate ?? options.StaleWhileRevalidate;
        if (mayServeStale && swr is { } window && staleness <= window && request.MaxAge is null && request.MinFresh is null)
        {
            return StoredUse.StaleWhileRevalidate;
        }

        return validate;
    }

    /// <summary>The freshness lifetime of a stored response, from its stored expiry; <see cref="TimeSpan.MaxValue"/> when it never expires.</summary>
    public static TimeSpan FreshnessLifetime(CachedResponse stored)
    {
        if (stored.ExpiresAt is not { } expires)
        {
            return TimeSpan.MaxValue;
        }

        var initialAge = CorrectedInitialAge(stored.Headers, stored.RequestTime, stored.CreatedAt);
        return expires - (stored.CreatedAt - initialAge);
    }

    /// <summary>Tells whether a stale response may be served after an error (RFC 5861 §4, RFC 9111 §4.2.4).</summary>
    public static bool MayServeStaleOnError(CachedResponse stored, CacheOptions options, DateTimeOffset now, CacheControlDirectives? request = null)
    {
        if (!stored.IsExpired(now))
        {
            return true;
        }

        TimeSpan? window;
        if (!options.CacheControl)
        {
            window = options.StaleIfError;
        }
        else
        {
            var response = CacheControlDirectives.Parse(stored.Headers.GetValue("Cache-Control"));

            // §4.2.4, §5.2.2.2, §5.2.2.4: an explicit must-revalidate or no-cache forbids serving stale, and the most
            // restrictive directive wins over stale-if-error (§4.2.1); RFC 5861 §4 only relaxes freshness.
            if (response.MustRevalidate || response.NoCache || HasVaryStar(stored.Headers))
            {
                return false;
            }

            // RFC 5861 §4: the request's directive for this request, else the response's, else the option.
            window = request?.StaleIfError ?? response.StaleIfError ?? options.StaleIfError;
        }

        return window is { } w && stored.ExpiresAt is { } expires && SafeAdd(expires, w) >= now;
    }

    /// <summary>Whether an origin status counts as an error that stale-if-error covers (RFC 5861 §4; any 5xx with CacheControl off).</summary>
    public static bool IsStaleIfErrorStatus(int status, CacheOptions options)
        => options.CacheControl ? StaleIfErrorStatuses.Contains(status) : status >= 500;

    /// <summary>§4.2.1: the explicit freshness lifetime, or null when the response has none.</summary>
    internal static TimeSpan? ExplicitLifetime(CacheControlDirectives directives, CachedHeaders headers, CachedHeaders contentHeaders, DateTimeOffset? receivedAt = null)
    {
        if (directives.MaxAge is { } maxAge)
        {
            // §5.3: with max-age, Expires is ignored.
            return maxAge;
        }

        var expiresText = GetExpires(headers, contentHeaders);
        if (expiresText is null)
        {
            return null;
        }

        // §5.3: an Expires that is not an HTTP-date of RFC 9110 §5.6.7 (e.g. "0") means already expired; so do two
        // Expires fields (their joined value is not a date: §4.2.1 allows "stale" for duplicates).
        if (!StrictHttpDate.TryParse(expiresText, receivedAt, out var expiresAt))
        {
            return TimeSpan.Zero;
        }

        // §4.2.1: without a Date, Expires is compared with the time the response was received.
        var date = HttpDate.TryParse(headers.GetValue("Date"), out var d) ? d : receivedAt;
        return date is null ? null : Max(TimeSpan.Zero, expiresAt - date.Value);
    }

    /// <summary>
    /// §3.1: the response as it is stored — without connection-specific and proxy fields (and those named by
    /// <c>Connection</c>), and, in CacheControl mode, with a <c>Date</c> when the origin sent none (RFC 9110 §6.6.1).
    /// </summary>
    public static CachedResponse PrepareForStorage(CachedResponse response, bool cacheControl)
    {
        var removed = NotStoredNames(response.Headers);
        var headers = response.Headers.Without(removed);
        var contentHeaders = response.ContentHeaders.Without(removed);
        if (cacheControl && !headers.Contains("Date"))
        {
            headers = headers.Merge([new("Date", [HttpDate.Format(response.CreatedAt)])]);
        }

        return response with { Headers = headers, ContentHeaders = contentHeaders };
    }

    /// <summary>
    /// §4.3.4: whether a 304 (with these fields) selects the stored response for update. A strong ETag must match
    /// strongly; a weak ETag or a Last-Modified must correspond. A 304 without any validator selects the stored response:
    /// this cache nominates exactly one stored response per conditional request, so the 304 can only be about it (§4.3.4's
    /// third case, read for a cache that validates one response at a time; RFC 9110 §15.4.5 does not oblige a server to
    /// repeat Last-Modified).
    /// </summary>
    public static bool SelectsForUpdate(CachedHeaders headers, CachedHeaders contentHeaders, CachedResponse stored)
    {
        var tag = EntityTag.Parse(headers.GetValue("ETag"));
        var storedTag = EntityTag.Parse(stored.ETag);
        var lastModifiedText = contentHeaders.GetValue("Last-Modified") ?? headers.GetValue("Last-Modified");

        if (tag is { IsWeak: false } strong)
        {
            // §4.3.4: a strong validator selects only stored responses with the same strong validator.
            return storedTag is { } s && strong.StrongEquals(s);
        }

        if (tag is { } weak && storedTag is { } st && weak.WeakEquals(st))
        {
            // §4.3.4: a weak validator that corresponds to the stored response.
            return true;
        }

        if (lastModifiedText is not null && HttpDate.TryParse(lastModifiedText, out var lastModified))
        {
            return stored.LastModified == lastModified;
        }

        if (tag is not null || lastModifiedText is not null)
        {
            return false;
        }

        // §4.3.4, third case: no validator in the 304, and one nominated stored response.
        return true;
    }

    /// <summary>
    /// §3.2 / §4.3.4: the stored response updated with the fields of a newer 304 or HEAD response, and its age restarted.
    /// The stored Age is dropped (the new response's own Age counts), and a new response without Date gets the time it
    /// was received.
    /// </summary>
    public static CachedResponse Freshen(CachedResponse stored, CachedHeaders headers, CachedHeaders contentHeaders, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var excluded = new HashSet<string>(NotUpdatedFields, StringComparer.OrdinalIgnoreCase);
        excluded.UnionWith(NotStoredNames(headers));
        var merged = stored.Headers.Without(new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Age" }).Merge(headers, excluded);
        if (!headers.Contains("Date"))
        {
            merged = merged.Merge([new("Date", [HttpDate.Format(responseTime)])]);
        }

        return stored with
        {
            Headers = merged,
            ContentHeaders = stored.ContentHeaders.Merge(contentHeaders, excluded),
            RequestTime = requestTime,
            CreatedAt = responseTime,
        };
    }

    /// <summary>
    /// §4.3.5: whether a 200 response to HEAD may update a stored GET response: every validator it carries (ETag,
    /// Last-Modified) matches, and its Content-Length, if any, is the stored body's. Without validators it cannot match.
    /// </summary>
    public static bool HeadMatches(CachedHeaders headers, CachedHeaders contentHeaders, CachedResponse stored)
    {
        var tag = EntityTag.Parse(headers.GetValue("ETag"));
        var lastModifiedText = contentHeaders.GetValue("Last-Modified") ?? headers.GetValue("Last-Modified");
        if (tag is null && lastModifiedText is null)
        {
            return false;
        }

        if (tag is { } t && (EntityTag.Parse(stored.ETag) is not { } s || t != s))
        {
            return false;
        }

        if (lastModifiedText is not null && (!HttpDate.TryParse(lastModifiedText, out var lastModified) || stored.LastModified != lastModified))
        {
            return false;
        }

        var length = contentHeaders.GetValue("Content-Length") ?? headers.GetValue("Content-Length");
        return length is null || (long.TryParse(length, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n == stored.Body.Length);
    }

    /// <summary>
    /// §4.3.1: the conditional header values that validate <paramref name="stored"/>, as the preference allows.
    /// </summary>
    public static (string? IfNoneMatch, string? IfModifiedSince) Validators(CachedResponse stored, ValidatorPreference preference)
    {
        var etag = stored.ETag;
        var lastModified = stored.ContentHeaders.GetValue("Last-Modified") ?? stored.Headers.GetValue("Last-Modified");
        if (lastModified is not null && !HttpDate.TryParse(lastModified, out _))
        {
            lastModified = null;
        }

        return preference switch
        {
            // §4.3.1: an entity tag MUST be sent; Last-Modified SHOULD be sent too.
            ValidatorPreference.Both => (etag, lastModified),
            ValidatorPreference.ETag => etag is not null ? (etag, null) : (null, lastModified),
            _ => lastModified is not null ? (null, lastModified) : (etag, null),
        };
    }

    /// <summary>
    /// §4.3.2: whether the cache may itself evaluate the preconditions of a request: GET or HEAD with If-None-Match or
    /// If-Modified-Since only. If-Match, If-Unmodified-Since and If-Range are meant for the origin.
    /// </summary>
    public static bool CanEvaluatePreconditions(string method, Func<string, bool> hasHeader)
        => (method == HttpMethod.Get.Method || method == HttpMethod.Head.Method)
            && (hasHeader("If-None-Match") || hasHeader("If-Modified-Since"))
            && !hasHeader("If-Match") && !hasHeader("If-Unmodified-Since") && !hasHeader("If-Range");

    /// <summary>
    /// §4.3.2 (with the precedence of RFC 9110 §13.2.2): evaluates a request's If-None-Match (weak comparison, or
    /// <c>*</c>) or, without it, its If-Modified-Since against the stored response's Last-Modified, else its Date, else
    /// the time it was received.
    /// </summary>
    public static PreconditionOutcome EvaluatePreconditions(string? ifNoneMatch, string? ifModifiedSince, CachedResponse stored)
    {
        if (ifNoneMatch is not null)
        {
            if (ifNoneMatch.Trim() == "*")
            {
                return PreconditionOutcome.NotModified;
            }

            var storedTag = EntityTag.Parse(stored.ETag);
            return storedTag is { } s && EntityTag.ParseList(ifNoneMatch).Any(t => t.WeakEquals(s))
                ? PreconditionOutcome.NotModified
                : PreconditionOutcome.Modified;
        }

        if (ifModifiedSince is null || !HttpDate.TryParse(ifModifiedSince, out var since))
        {
            // RFC 9110 §13.1.3: an invalid If-Modified-Since is ignored.
            return PreconditionOutcome.Modified;
        }

        var modified = stored.LastModified
            ?? (HttpDate.TryParse(stored.Headers.GetValue("Date"), out var date) ? date : stored.CreatedAt);
        return modified <= since ? PreconditionOutcome.NotModified : PreconditionOutcome.Modified;
    }

    /// <summary>Whether a Vary field value lists <c>*</c> (§4.1).</summary>
    internal static bool HasVaryStar(CachedHeaders headers)
        => headers.TryGetValues("Vary", out var values) && values.Any(v => v.Split(',').Any(n => n.Trim() == "*"));

    private static string? GetExpires(CachedHeaders headers, CachedHeaders contentHeaders)
        => contentHeaders.GetValue("Expires") ?? headers.GetValue("Expires");

    private static ICollection<string> NotStoredNames(CachedHeaders headers)
    {
        if (headers.GetValue("Connection") is not { } connection)
        {
            return NotStoredFields;
        }

        var names = new HashSet<string>(NotStoredFields, StringComparer.OrdinalIgnoreCase);
        foreach (var name in connection.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // RFC 9110 §7.6.1: the fields a Connection header names are connection-specific too.
            if (!name.Equals("close", StringComparison.OrdinalIgnoreCase) && !name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase))
            {
                names.Add(name);
            }
        }

        return names;
    }

    private static TimeSpan? HeuristicLifetime(CachedResponse response, CacheControlDirectives directives, CacheOptions options)
    {
        // §4.2.2: only heuristically cacheable statuses, or responses marked public.
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

        var heuristic = TimeSpan.FromTicks((long)Math.Min(sinceModified.Ticks * options.HeuristicFraction, TimeSpan.MaxValue.Ticks));
        return heuristic > options.HeuristicMaxAge ? options.HeuristicMaxAge : heuristic;
    }

    private static TimeSpan ParseAge(CachedHeaders headers)
    {
        // §5.1: Age is delta-seconds; with several values the first is used; an invalid value is ignored.
        if (!headers.TryGetValues("Age", out var values) || values.Length == 0)
        {
            return TimeSpan.Zero;
        }

        var first = values[0].Split(',')[0].Trim();
        if (first.Length == 0 || !first.All(char.IsAsciiDigit))
        {
            return TimeSpan.Zero;
        }

        return long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 2147483648L
            ? TimeSpan.FromSeconds(seconds)
            : CacheControlDirectives.MaxDeltaSeconds;
    }

    /// <summary>Adds without overflowing: §1.2.2 asks a cache to saturate rather than fail.</summary>
    internal static DateTimeOffset SafeAdd(DateTimeOffset instant, TimeSpan span)
    {
        if (span > TimeSpan.Zero && DateTimeOffset.MaxValue - instant < span)
        {
            return DateTimeOffset.MaxValue;
        }

        if (span < TimeSpan.Zero && instant - DateTimeOffset.MinValue < span.Negate())
        {
            return DateTimeOffset.MinValue;
        }

        return instant + span;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
