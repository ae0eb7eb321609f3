namespace CachedHttp;

/// <summary>
/// Which validators a cache sends when it revalidates a stale stored response with a conditional request
/// (RFC 9111 §4.3.1), in <see cref="CacheOptions.CacheControl"/> mode and for <see cref="HttpRequestMessageCacheExtensions.SetRefresh"/>.
/// </summary>
public enum ValidatorPreference
{
    /// <summary>
    /// Send <c>If-None-Match</c> when the stored response has an <c>ETag</c> and <c>If-Modified-Since</c> when it has a
    /// <c>Last-Modified</c> (the server evaluates <c>If-None-Match</c> first, RFC 9110 §13.2.2). This is what RFC 9111 §4.3.1 asks for.
    /// </summary>
    Both,

    /// <summary>
    /// Send only <c>If-None-Match</c> when the stored response has an <c>ETag</c>; fall back to <c>If-Modified-Since</c> when it
    /// has only a <c>Last-Modified</c>. Leaves out what §4.3.1 says a cache SHOULD send; for origins whose dates are unreliable.
    /// </summary>
    ETag,

    /// <summary>
    /// Send only <c>If-Modified-Since</c> when the stored response has a <c>Last-Modified</c>; fall back to <c>If-None-Match</c>
    /// when it has only an <c>ETag</c>. This departs from §4.3.1 ("MUST send the relevant entity tags"): use it only for origins
    /// whose entity tags are unreliable (for example, different on each server of a farm).
    /// </summary>
    LastModified,
}
