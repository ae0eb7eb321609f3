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
        CancellationToken cancellationToken)
    {
        var options = Cache.Options;
        var conditional = stored is not null && stored.HasValidators && (use == StoredUse.Revalidate || actions.Revalidate) && AddValidators(request, stored);
        var requestTime = Cache.Now;
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
            if (!callerCancelled && stored is not null && CachePolicy.MayServeStaleOnError(stored, options, Cache.Now))
            {
                // RFC 5861 §4 / RFC 9111 §4.2.4: the origin failed; a stale response may be served.
                Log.ServedStaleOnError(Cache.Logger, ex);
                flight?.Complete(new FlightResult(stored, null));
                return Serve(stored, request, key, CacheStatus.Stale);
            }

            flight?.Complete(callerCancelled ? FlightResult.Retry : new FlightResult(null, ex));
            throw;
        }

        var responseTime = Cache.Now;
        if (conditional && response.StatusCode == HttpStatusCode.NotModified && stored is not null)
        {
            if (ValidatorMatches(response, stored))
            {
                response.Dispose();
                var freshened = await FreshenAsync(key, stored, response, request, actions, requestTime, responseTime).ConfigureAwait(false);
                flight?.Complete(new FlightResult(freshened, null));
                return Serve(freshened, request, key, CacheStatus.Revalidated, revalidated: true);
            }

            // §4.3.4: a 304 that selects no stored response cannot be used to update one: fetch the full response.
            response.Dispose();
            RemoveValidators(request);
            return await FetchAsync(request, key, actions, stored: null, StoredUse.Unusable, flight, sync, cancellationToken).ConfigureAwait(false);
        }

        if (conditional)
        {
            RemoveValidators(request);
        }

        if (stored is not null && (int)response.StatusCode >= 500 && CachePolicy.MayServeStaleOnError(stored, options, responseTime))
        {
            // RFC 5861 §4: stale-if-error covers 5xx answers too.
            Log.ServedStaleOnError(Cache.Logger, null);
            response.Dispose();
            flight?.Complete(new FlightResult(stored, null));
            return Serve(stored, request, key, CacheStatus.Stale);
        }

        var candidate = ResponseFactory.Create(response, finalRequest, ReadOnlyMemory<byte>.Empty, requestTime, responseTime, history, options);
        var plan = CachePolicy.ForResponse(candidate, actions, options);
        if (!plan.Store)
        {
            Log.NotStored(Cache.Logger, plan.Reason ?? "not storable");
        }

        if (response.Content is null || (!plan.Store && flight is null))
        {
            flight?.Complete(FlightResult.Retry);
            return Finish(response, CacheStatus.Miss, key, new CacheInfo(CacheStatus.Miss, key, responseTime, null, false, false, false));
        }

        if (plan.Store && history.Count > 0)
        {
            candidate = candidate with { AliasKeys = AliasKeys(request, key, history, finalRequest) };
        }

        candidate = candidate with { ExpiresAt = plan.ExpiresAt };
        var storedCandidate = candidate;
        var deleteAfter = plan.DeleteAfter;
        var store = plan.Store;

        async ValueTask OnComplete(ReadOnlyMemory<byte> body)
        {
            var complete = storedCandidate with { Body = body };
            if (store && await PassesFilterSafeAsync(complete).ConfigureAwait(false))
            {
                await SafeSaveAsync(key, complete, deleteAfter).ConfigureAwait(false);
            }

            flight?.Complete(new FlightResult(complete, null));
        }

        var tee = new TeeContent(
            response.Content,
            options.MaxBodySize,
            OnComplete,
            ex => flight?.Complete(ex is OperationCanceledException ? FlightResult.Retry : new FlightResult(null, ex)),
            _ => flight?.Complete(FlightResult.Retry));
        response.Content = tee;
        var info = new CacheInfo(CacheStatus.Miss, key, responseTime, plan.ExpiresAt, false, false, plan.Store);

        // A body known to be empty is complete now, so a caller that never reads it still gets it stored.
        if (request.Method == HttpMethod.Head || response.StatusCode is HttpStatusCode.NoContent || tee.Headers.ContentLength == 0)
        {
            await tee.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        return Finish(response, CacheStatus.Miss, key, info);
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

    /// <summary>§4.3.4: a 304 updates the stored headers and freshness; the stored body is kept.</summary>
    private async ValueTask<CachedResponse> FreshenAsync(string key, CachedResponse stored, HttpResponseMessage notModified, HttpRequestMessage request, CacheActions actions, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var excluded = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Content-Length", "Content-Encoding", "Transfer-Encoding", "Content-Range" };
        var headers = stored.Headers.Merge(HeaderConversions.ToCached(notModified.Headers), excluded);
        var contentHeaders = notModified.Content is null
            ? stored.ContentHeaders
            : stored.ContentHeaders.Merge(HeaderConversions.ToCached(notModified.Content.Headers).Where(h => !excluded.Contains(h.Key) && !h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)), excluded);
        var updated = stored with { Headers = headers, ContentHeaders = contentHeaders, RequestTime = requestTime, CreatedAt = responseTime };
        var plan = CachePolicy.ForResponse(updated, actions with { SkipWrite = false }, Cache.Options);
        updated = updated with { ExpiresAt = plan.Store ? plan.ExpiresAt : responseTime };
        if (plan.Store)
        {
            await SafeSaveAsync(key, updated, plan.DeleteAfter).ConfigureAwait(false);
        }

        return updated;
    }

    /// <summary>Adds If-None-Match / If-Modified-Since from the stored validators (§4.3.1).</summary>
    private static bool AddValidators(HttpRequestMessage request, CachedResponse stored)
    {
        var added = false;
        if (stored.ETag is { } etag)
        {
            added = request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        }

        if (stored.ContentHeaders.GetValue("Last-Modified") is { } lastModified)
        {
            added |= request.Headers.TryAddWithoutValidation("If-Modified-Since", lastModified);
        }

        return added;
    }

    private static void RemoveValidators(HttpRequestMessage request)
    {
        request.Headers.Remove("If-None-Match");
        request.Headers.Remove("If-Modified-Since");
    }

    /// <summary>§4.3.4: the 304 selects the stored response if its strong validator matches, or it carries none.</summary>
    private static bool ValidatorMatches(HttpResponseMessage notModified, CachedResponse stored)
    {
        var etag = HeaderConversions.GetJoined(notModified, "ETag");
        if (etag is null || stored.ETag is null)
        {
            return true;
        }

        static string Opaque(string tag) => tag.Trim().StartsWith("W/", StringComparison.Ordinal) ? tag.Trim()[2..] : tag.Trim();
        return Opaque(etag) == Opaque(stored.ETag);
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

        try
        {
            var keys = new List<string>();
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

            await Cache.DeleteManyAsync(keys, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "invalidate");
            CacheMetrics.StorageError(Cache.Name, "invalidate");
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

        copy.Content = request.Content;
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(100));
                using var response = await FetchAsync(copy, key, actions with { Revalidate = true }, stored, StoredUse.Revalidate, flight, sync: false, timeout.Token).ConfigureAwait(false);
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
