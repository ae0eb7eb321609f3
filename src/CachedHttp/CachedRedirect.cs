namespace CachedHttp;

/// <summary>One redirect hop that led to a cached response.</summary>
/// <param name="Method">The method of the request that was redirected.</param>
/// <param name="Url">The URL that answered with a redirect.</param>
/// <param name="StatusCode">The redirect status (301, 302, 303, 307 or 308).</param>
/// <param name="SetCookie">The <c>Set-Cookie</c> values of the redirect response, put back into the cookie container on hits.</param>
public sealed record CachedRedirect(string Method, Uri Url, int StatusCode, IReadOnlyList<string> SetCookie);
