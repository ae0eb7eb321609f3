namespace CachedHttp.Internal;

/// <summary>Builds <see cref="CachedResponse"/> records from live messages.</summary>
internal static class ResponseFactory
{
    public static CachedResponse Create(
        HttpResponseMessage response,
        HttpRequestMessage request,
        ReadOnlyMemory<byte> body,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        IReadOnlyList<CachedRedirect> history,
        CacheOptions options)
    {
        var headers = HeaderConversions.ToCached(response.Headers);
        var cached = new CachedResponse
        {
            Method = request.Method.Method.ToUpperInvariant(),
            Url = request.RequestUri!,
            StatusCode = response.StatusCode,
            ReasonPhrase = response.ReasonPhrase,
            Version = response.Version,
            Headers = headers,
            ContentHeaders = response.Content is null ? CachedHeaders.Empty : HeaderConversions.ToCached(response.Content.Headers),
            TrailingHeaders = HeaderConversions.ToCached(response.TrailingHeaders),
            RequestHeaders = RedactedRequestHeaders(request, options),
            Body = body,
            RequestTime = requestTime,
            CreatedAt = responseTime,
            History = history,
        };
        var names = CacheBackend.VaryNames(cached);
        return names.Count == 0 ? cached : cached with { VaryValues = CacheBackend.VaryValuesOf(request, names, options) };
    }

    /// <summary>The request headers as stored: ignored ones omitted; credentials and secret-named ones <c>REDACTED</c>.</summary>
    private static CachedHeaders RedactedRequestHeaders(HttpRequestMessage request, CacheOptions options)
    {
        var omit = options.IgnoredParameters.Count == 0 ? null : new HashSet<string>(options.IgnoredParameters, StringComparer.OrdinalIgnoreCase);
        var headers = HeaderConversions.ToCached(request.Headers, redactCredentials: true, omit);
        if (request.Content is not null)
        {
            headers = headers.Merge(HeaderConversions.ToCached(request.Content.Headers, redactCredentials: true, omit));
        }

        return Secrets.RedactHeaders(headers, options);
    }
}
