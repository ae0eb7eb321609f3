using System.Net;
using System.Net.Http.Headers;

namespace CachedHttp;

/// <summary>
/// A stored HTTP response: what the cache serializes, persists and serves.
/// </summary>
/// <remarks>
/// Immutable and safe to share between threads. A cache hit builds a fresh <see cref="HttpResponseMessage"/>
/// around it with <see cref="ToHttpResponseMessage"/>, so every caller gets its own response object whose body
/// can be read many times, as bytes or as a stream.
/// </remarks>
public sealed record CachedResponse
{
    /// <summary>Gets the request method, upper-case.</summary>
    public required string Method { get; init; }

    /// <summary>Gets the URL of the response (after redirects).</summary>
    public required Uri Url { get; init; }

    /// <summary>Gets the status code.</summary>
    public required HttpStatusCode StatusCode { get; init; }

    /// <summary>Gets the reason phrase, if the server sent one.</summary>
    public string? ReasonPhrase { get; init; }

    /// <summary>Gets the HTTP version.</summary>
    public Version Version { get; init; } = HttpVersion.Version11;

    /// <summary>Gets the response header fields (those of <see cref="HttpResponseMessage.Headers"/>).</summary>
    public CachedHeaders Headers { get; init; } = CachedHeaders.Empty;

    /// <summary>Gets the content header fields (those of <see cref="HttpContent.Headers"/>).</summary>
    public CachedHeaders ContentHeaders { get; init; } = CachedHeaders.Empty;

    /// <summary>Gets the trailing header fields, if any.</summary>
    public CachedHeaders TrailingHeaders { get; init; } = CachedHeaders.Empty;

    /// <summary>Gets the request header fields, with credentials redacted.</summary>
    public CachedHeaders RequestHeaders { get; init; } = CachedHeaders.Empty;

    /// <summary>Gets the body bytes.</summary>
    /// <remarks>
    /// Empty for a response whose body was left in storage because it is larger than
    /// <see cref="CacheOptions.StreamingThreshold"/> (see <see cref="Size"/>): the message that
    /// <see cref="ToHttpResponseMessage"/> builds reads that body from storage as it is consumed.
    /// </remarks>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>Gets the body of a large entry, left in storage and read from it when served; null when the body is in <see cref="Body"/>.</summary>
    internal Internal.StoredBody? StoredBody { get; init; }

    /// <summary>Gets when the request that produced this response was sent (UTC).</summary>
    public DateTimeOffset RequestTime { get; init; }

    /// <summary>Gets when the response was received and stored (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when the response stops being fresh (UTC), or <see langword="null"/> if it never expires.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Gets the redirect hops that led to this response, in order.</summary>
    public IReadOnlyList<CachedRedirect> History { get; init; } = [];

    /// <summary>Gets the request header values named by the response's <c>Vary</c> (normalized), which select this variant.</summary>
    public CachedHeaders VaryValues { get; init; } = CachedHeaders.Empty;

    /// <summary>Gets the cache keys that are aliases of this response (one per redirect hop).</summary>
    public IReadOnlyList<string> AliasKeys { get; init; } = [];

    /// <summary>Gets the entity tag of the response, if any.</summary>
    public string? ETag => Headers.GetValue("ETag");

    /// <summary>Gets the <c>Last-Modified</c> date of the response, if present and valid.</summary>
    public DateTimeOffset? LastModified
        => ContentHeaders.GetValue("Last-Modified") is { } text && HttpDate.TryParse(text, out var date) ? date : null;

    /// <summary>Gets a value indicating whether the response carries a validator (ETag or Last-Modified).</summary>
    public bool HasValidators => ETag is not null || LastModified is not null;

    /// <summary>Tells whether the response is expired at <paramref name="now"/>.</summary>
    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;

    /// <summary>Gets the body size in bytes (also when the body was left in storage).</summary>
    public int Size => StoredBody is { } stored ? (int)stored.Length : Body.Length;

    /// <summary>Builds a new response message around the stored status, headers and body.</summary>
    /// <param name="request">The request to attach as <see cref="HttpResponseMessage.RequestMessage"/>.</param>
    public HttpResponseMessage ToHttpResponseMessage(HttpRequestMessage? request = null)
    {
        HttpContent content = StoredBody is { } stored ? new Internal.StoredBodyContent(stored) : new ReadOnlyMemoryContent(Body);
        AddAll(content.Headers, ContentHeaders);
        var message = new ServedResponseMessage(StatusCode)
        {
            Version = Version,
            ReasonPhrase = ReasonPhrase,
            RequestMessage = request,
            Content = content,
        };
        AddAll(message.Headers, Headers);
        if (TrailingHeaders.Count > 0)
        {
            // Only then: the getter allocates the collection.
            AddAll(message.TrailingHeaders, TrailingHeaders);
        }

        return message;
    }

    private static void AddAll(HttpHeaders target, CachedHeaders fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            var (name, values) = fields[i];

            // The single-value overload: the enumerable one allocates an enumerator per field.
            _ = values.Length == 1 ? target.TryAddWithoutValidation(name, values[0]) : target.TryAddWithoutValidation(name, values);
        }
    }
}
