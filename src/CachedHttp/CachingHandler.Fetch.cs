using System.Net;
using CachedHttp.Internal;
using CachedHttp.Policy;

namespace CachedHttp;

/// <content>The network path: fetch, follow redirects, store, and the stale-if-error fallback.</content>
public partial class CachingHandler
{
    private async Task<HttpResponseMessage> FetchAsync(
        HttpRequestMessage request,
        string key,
        CacheActions actions,
        CachedResponse? stored,
        StoredUse use,
        InFlight? flight,
        bool sync,
        CancellationToken cancellationToken,
        bool callerConditional = false)
    {
        var options = Cache.Options;

        // §4.3.1: validate a stale (or refresh-requested) stored response with a conditional request of the cache's own.
        var conditional = !callerConditional && stored is not null && stored.HasValidators
            && (use == StoredUse.Revalidate || actions.Revalidate) && AddValidators(request, stored, options.Validators);
        var requestTime = Cache.Now;
        var target = request.RequestUri!;
        HttpResponseMessage response;
        List<CachedRedirect> history;
        HttpRequestMessage finalRequest;
        try
        {
            (response, history, finalRequest) = await SendFollowingRedirectsAsync(request, sync, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var callerCancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            if (!callerCancelled && stored is not null && CachePolicy.MayServeStaleOnError(stored, options, Cache.Now, actions.Request))
            {
                // RFC 5861 §4 / RFC 9111 §4.2.4: the origin cannot be reached; a stale response may be served.
                Log.ServedStaleOnError(Cache.Logger, ex);
                flight?.Complete(new FlightResult(stored, null));
                return Serve(stored, request, key, CacheStatus.Stale);
            }

            flight?.Complete(callerCancelled ? FlightResult.Retry : new FlightResult(null, ex));
            throw;
        }

        var responseTime = Cache.Now;
        var status = (int)response.StatusCode;

        // §4.4: a non-error response to an unsafe method invalidates the target URI (and same-origin Location / Content-Location).
        if (options.CacheControl && IsUnsafe(request.Method) && status < 400)
        {
            await InvalidateAsync(request, target, response, cancellationToken).ConfigureAwait(false);
        }

        if (response.StatusCode == HttpStatusCode.NotModified && stored is not null && (conditional || callerConditional))
        {
            var headers = HeaderConversions.ToCached(response.Headers);
            var contentHeaders = response.Content is null ? CachedHeaders.Empty : HeaderConversions.ToCached(response.Content.Headers);

            // §4.3.4: a 304 updates the stored response it selects (by strong validator when it has one).
            if (CachePolicy.SelectsForUpdate(headers, contentHeaders, stored))
            {
                var freshened = await FreshenAsync(key, stored, headers, contentHeaders, actions, requestTime, responseTime, request).ConfigureAwait(false);
                if (conditional)
                {
                    // §4.3.3: the cache's own validation succeeded: serve the stored body with the updated fields.
                    response.Dispose();
                    flight?.Complete(new FlightResult(freshened, null));
                    return Serve(freshened, request, key, CacheStatus.Revalidated, revalidated: true);
                }

                // §4.3.2: the caller asked the conditional question, so the 304 is its answer (passed on below).
            }
            else if (conditional)
            {
                // §4.3.4: a 304 that selects no stored response cannot update one, and the caller, who did not ask a
                // conditional question, cannot use a 304: repeat the request unconditionally.
                response.Dispose();
                RemoveValidators(request);
                return await FetchAsync(request, key, actions, stored: null, StoredUse.Unusable, flight, sync, cancellationToken).ConfigureAwait(false);
            }
        }

        if (conditional)
        {
            RemoveValidators(request);
        }

        if (stored is not null && CachePolicy.IsStaleIfErrorStatus(status, options) && CachePolicy.MayServeStaleOnError(stored, options, responseTime, actions.Request))
        {
            // RFC 5861 §4: stale-if-error covers 500, 502, 503 and 504 answers too.
            Log.ServedStaleOnError(Cache.Logger, null);
            response.Dispose();
            flight?.Complete(new FlightResult(stored, null));
            return Serve(stored, request, key, CacheStatus.Stale);
        }

        // §4.3.5: a 200 response to HEAD may freshen the stored GET response (or mark it stale).
        if (options.CacheControl && request.Method == HttpMethod.Head && response.StatusCode == HttpStatusCode.OK)
        {
            await FreshenFromHeadAsync(finalRequest, response, actions, requestTime, responseTime).ConfigureAwait(false);
        }

        var candidate = ResponseFactory.Create(response, finalRequest, ReadOnlyMemory<byte>.Empty, requestTime, responseTime, history, options);
        candidate = CachePolicy.PrepareForStorage(candidate, options.CacheControl);
        var plan = CachePolicy.ForResponse(candidate, actions, options);
        if (!plan.Store)
        {
            Log.NotStored(Cache.Logger, plan.Reason ?? "not storable");
            if (options.CacheControl && flight is not null)
            {
                // §4: only a reusable (stored) response satisfies the requests collapsed onto this one; they go to the origin.
                flight.Complete(FlightResult.Retry);
                flight = null;
            }
        }

        if (response.Content is null || (!plan.Store && flight is null))
        {
            flight?.Complete(FlightResult.Retry);
            var result = MissOrBypassed(request);
            return Finish(response, result, key, new CacheInfo(result, key, responseTime, null, false, false, false));
        }

        if (plan.Store && history.Count > 0)
        {
            candidate = candidate with { AliasKeys = AliasKeys(request, key, history, finalRequest) };
        }

        candidate = candidate with { ExpiresAt = plan.ExpiresAt };
        var storedCandidate = candidate;
        var deleteAfter = plan.DeleteAfter;
        var store = plan.Store;
        var sharedFlight = flight;

        async ValueTask OnComplete(ReadOnlyMemory<byte> body)
        {
            var complete = storedCandidate with { Body = body };
            if (store && await PassesFilterSafeAsync(complete).ConfigureAwait(false))
            {
                await SafeSaveAsync(key, complete, deleteAfter, request).ConfigureAwait(false);
            }

            sharedFlight?.Complete(new FlightResult(complete, null));
        }

        var tee = new TeeContent(
            response.Content,
            options.MaxBodySize,
            OnComplete,
            ex => sharedFlight?.Complete(ex is OperationCanceledException ? FlightResult.Retry : new FlightResult(null, ex)),
            _ => sharedFlight?.Complete(FlightResult.Retry))
        {
            Streaming = store ? StreamingFor(key, storedCandidate, deleteAfter, sharedFlight) : null,
        };
        response.Content = tee;
        var info = IsStorageBypassed(request)
            ? new CacheInfo(CacheStatus.Bypassed, key, responseTime, null, false, false, false)
            : new CacheInfo(CacheStatus.Miss, key, responseTime, plan.ExpiresAt, false, false, plan.Store);

        // A body known to be empty is complete now, so a caller that never reads it still gets it stored.
        if (request.Method == HttpMethod.Head || response.StatusCode is HttpStatusCode.NoContent || tee.Headers.ContentLength == 0)
        {
            await tee.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        return Finish(response, info.Status, key, info);
    }

    private async ValueTask<bool> PassesFilterSafeAsync(CachedResponse response)
    {
        try
        {
            return await Cache.PassesFilterAsync(response, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.FilterFailed(Cache.Logger, ex);
            return false;
        }
    }

    /// <summary>§4.3.4: a 304 updates the stored fields and freshness (§3.2); the stored body is kept.</summary>
    private async ValueTask<CachedResponse> FreshenAsync(string key, CachedResponse stored, CachedHeaders headers, CachedHeaders contentHeaders, CacheActions actions, DateTimeOffset requestTime, DateTimeOffset responseTime, HttpRequestMessage owner)
    {
        var updated = CachePolicy.Freshen(stored, headers, contentHeaders, requestTime, responseTime);
        var plan = CachePolicy.ForResponse(updated, actions with { SkipWrite = false }, Cache.Options);
        updated = updated with { ExpiresAt = plan.Store ? plan.ExpiresAt : responseTime };
        if (plan.Store)
        {
            await SafeSaveAsync(key, updated, plan.DeleteAfter, owner).ConfigureAwait(false);
        }

        return updated;
    }

    /// <summary>
    /// §4.3.5: a 200 response to HEAD updates the stored GET response of the same URL (and request headers, for Vary)
    /// when its validators and Content-Length match; otherwise that stored response becomes stale.
    /// </summary>
    private async ValueTask FreshenFromHeadAsync(HttpRequestMessage request, HttpResponseMessage head, CacheActions actions, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var options = Cache.Options;
        try
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, request.RequestUri);
            foreach (var header in request.Headers.NonValidated)
            {
                probe.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            var getKey = Cache.CreateKey(probe);
            var stored = await SafeLookupAsync(getKey, probe, CancellationToken.None, owner: request).ConfigureAwait(false);
            if (stored is null)
            {
                return;
            }

            var headers = HeaderConversions.ToCached(head.Headers);
            var contentHeaders = head.Content is null ? CachedHeaders.Empty : HeaderConversions.ToCached(head.Content.Headers);
            if (CachePolicy.HeadMatches(headers, contentHeaders, stored))
            {
                var updated = CachePolicy.Freshen(stored, headers, contentHeaders, requestTime, responseTime);
                var plan = CachePolicy.ForResponse(updated, actions with { SkipWrite = false }, options);
                if (plan.Store)
                {
                    await SafeSaveAsync(getKey, updated with { ExpiresAt = plan.ExpiresAt }, plan.DeleteAfter, request).ConfigureAwait(false);
                }
            }
            else if (!stored.IsExpired(responseTime))
            {
                // §4.3.5: "otherwise, the cache SHOULD consider the stored response to be stale".
                var window = stored.HasValidators ? options.StaleRetention : TimeSpan.Zero;
                window = new[] { window, options.StaleIfError ?? TimeSpan.Zero, options.StaleWhileRevalidate ?? TimeSpan.Zero }.Max();
                await SafeSaveAsync(getKey, stored with { ExpiresAt = responseTime }, CachePolicy.SafeAdd(responseTime, window), request).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "head-update");
            CacheMetrics.StorageError(Cache.Name, "head-update", "error");
        }
    }

    /// <summary>Adds If-None-Match / If-Modified-Since from the stored validators, as <see cref="CacheOptions.Validators"/> prefers (§4.3.1).</summary>
    private static bool AddValidators(HttpRequestMessage request, CachedResponse stored, ValidatorPreference preference)
    {
        var (ifNoneMatch, ifModifiedSince) = CachePolicy.Validators(stored, preference);
        var added = false;
        if (ifNoneMatch is not null)
        {
            added = request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        if (ifModifiedSince is not null)
        {
            added |= request.Headers.TryAddWithoutValidation("If-Modified-Since", ifModifiedSince);
        }

        return added;
    }

    private static void RemoveValidators(HttpRequestMessage request)
    {
        request.Headers.Remove("If-None-Match");
        request.Headers.Remove("If-Modified-Since");
    }

    private async Task<(HttpResponseMessage Response, List<CachedRedirect> History, HttpRequestMessage FinalRequest)> SendFollowingRedirectsAsync(HttpRequestMessage request, bool sync, CancellationToken cancellationToken)
    {
        var history = new List<CachedRedirect>();
        var current = request;
        while (true)
        {
            var response = await SendInnerAsync(current, sync, cancellationToken).ConfigureAwait(false);
            if (!FollowRedirects || history.Count >= MaxRedirects || !IsRedirect(response.StatusCode) || response.Headers.Location is not { } location)
            {
                if (!ReferenceEquals(current, request))
                {
                    // As SocketsHttpHandler does: the caller's request now names the final URL.
                    request.RequestUri = current.RequestUri;
                    response.RequestMessage = request;
                }

                return (response, history, current);
            }

            var target = location.IsAbsoluteUri ? location : new Uri(current.RequestUri!, location);
            if (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps)
            {
                return (response, history, current);
            }

            var setCookie = response.Headers.NonValidated.TryGetValues("Set-Cookie", out var cookies) ? cookies.ToArray() : [];
            history.Add(new CachedRedirect(current.Method.Method, current.RequestUri!, (int)response.StatusCode, setCookie));
            var method = current.Method;
            var keepBody = true;
            if ((response.StatusCode == HttpStatusCode.SeeOther && method != HttpMethod.Head)
                || (response.StatusCode is HttpStatusCode.Moved or HttpStatusCode.Found && method == HttpMethod.Post))
            {
                method = HttpMethod.Get;
                keepBody = false;
            }

            var next = new HttpRequestMessage(method, target) { Version = current.Version, VersionPolicy = current.VersionPolicy };
            var sameOrigin = Uri.Compare(current.RequestUri, target, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
            foreach (var header in current.Headers.NonValidated)
            {
                if (!sameOrigin && HeaderConversions.CredentialHeaders.Contains(header.Key))
                {
                    continue;
                }

                next.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            if (keepBody && current.Content is not null)
            {
                next.Content = current.Content;
            }

            foreach (var option in current.Options)
            {
                ((IDictionary<string, object?>)next.Options)[option.Key] = option.Value;
            }

            response.Dispose();
            current = next;
        }
    }

    private static bool IsRedirect(HttpStatusCode status)
        => status is HttpStatusCode.Moved or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>One alias per hop after the first (whose key is the response's own), and one for the final URL.</summary>
    private List<string> AliasKeys(HttpRequestMessage request, string key, List<CachedRedirect> history, HttpRequestMessage finalRequest)
    {
        var builder = CacheKeys.KeyBuilder.For(request, Cache.Options);
        var aliases = new List<string>();
        foreach (var hop in history.Skip(1))
        {
            aliases.Add(builder.KeyFor(hop.Method, hop.Url));
        }

        aliases.Add(builder.KeyFor(finalRequest.Method.Method, finalRequest.RequestUri!));
        aliases.Remove(key);
        return aliases.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>§4.4: a non-error response to an unsafe method invalidates the target URL and same-origin Location / Content-Location.</summary>
    private async ValueTask InvalidateAsync(HttpRequestMessage request, Uri target, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var targets = new List<Uri> { target };
        foreach (var name in new[] { "Location", "Content-Location" })
        {
            if (HeaderConversions.GetJoined(response, name) is { } value && Uri.TryCreate(target, value, out var uri)
                && Uri.Compare(uri, target, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
            {
                targets.Add(uri);
            }
        }

        if (IsStorageBypassed(request))
        {
            return;
        }

        var keys = new List<string>();
        try
        {
            foreach (var url in targets)
            {
                foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
                {
                    using var probe = new HttpRequestMessage(method, url);
                    foreach (var header in request.Headers.NonValidated)
                    {
                        probe.Headers.TryAddWithoutValidation(header.Key, header.Value);
                    }

                    keys.Add(Cache.CreateKey(probe));
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "invalidate");
            CacheMetrics.StorageError(Cache.Name, "invalidate", "error");
            return;
        }

        var (succeeded, _) = await Cache.CallStorageAsync("invalidate", keys, static (cache, keys, token) => cache.DeleteManyAsync(keys, token), cancellationToken).ConfigureAwait(false);
        if (!succeeded)
        {
            BypassStorage(request);
        }
    }

    /// <summary>RFC 5861 §3: revalidate in the background, once per key, never blocking the caller.</summary>
    private void StartBackgroundRevalidation(HttpRequestMessage request, string key, CachedResponse stored, CacheActions actions)
    {
        var flight = InFlight.Join(Cache.InFlight, key, out var isLeader);
        if (!isLeader)
        {
            return;
        }

        var copy = new HttpRequestMessage(request.Method, request.RequestUri) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        foreach (var header in request.Headers.NonValidated)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (request.Content is not null)
        {
            // Its own copy of the (already buffered) body: the caller may dispose its request before the revalidation runs.
            copy.Content = new ByteArrayContent(request.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult());
            foreach (var header in request.Content.Headers.NonValidated)
            {
                copy.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(100));

                // A revalidation that finished between this request's lookup and now has already refreshed the entry.
                var current = await SafeLookupAsync(key, copy, timeout.Token).ConfigureAwait(false);
                if (current is not null && CachePolicy.Evaluate(current, actions, Cache.Options, Cache.Now) == StoredUse.Fresh)
                {
                    flight.Complete(new FlightResult(current, null));
                    return;
                }

                using var response = await FetchAsync(copy, key, actions with { Revalidate = true }, current ?? stored, StoredUse.Revalidate, flight, sync: false, timeout.Token).ConfigureAwait(false);
                if (response.Content is not null)
                {
                    await response.Content.LoadIntoBufferAsync(timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                Log.BackgroundRevalidationFailed(Cache.Logger, ex);
                flight.Complete(FlightResult.Retry);
            }
            finally
            {
                copy.Dispose();
            }
        });
    }
}
