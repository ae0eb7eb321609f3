using System.Globalization;
using CachedHttp.Testing;
using CachedHttp.Tests.Integration.Foundation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Integration.Rfc9111;

/// <summary>
/// RFC 9111 behaviours over real sockets: a real Kestrel origin, a <see cref="CachedSession"/> in CacheControl mode and a
/// fake clock set to real now (the origin's own Date is real time), advanced by the tests.
/// </summary>
public abstract class RfcFixture : OriginFixture
{
    protected static (CachedSession Session, FakeTimeProvider Time) NewRfcSession(Uri baseAddress, Action<CacheOptions>? configure = null)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new CacheOptions { CacheControl = true, TimeProvider = time };
        configure?.Invoke(options);
        return (new CachedSession(new CacheBackend(options)) { BaseAddress = baseAddress }, time);
    }

    protected (CachedSession Session, FakeTimeProvider Time) NewRfcSession(Action<CacheOptions>? configure = null)
        => NewRfcSession(Origin.BaseAddress, configure);

    /// <summary>Maps a handler on a fresh path; the handler receives the 0-based number of the request to that path.</summary>
    protected string Script(Func<HttpContext, int, Task> handler)
    {
        var path = "/rfc/" + Unique();
        var calls = -1;
        Origin.Map(path, context => handler(context, Interlocked.Increment(ref calls)));
        return path;
    }

    protected IReadOnlyList<RecordedRequest> Recorded(string path) => [.. Origin.RecordedRequests.Where(r => r.Path == path)];

    /// <summary>
    /// Writes a response: <paramref name="spec"/> is <c>"Name: value|Name: value"</c>; a value <c>@N</c> is the HTTP-date N
    /// seconds after <paramref name="now"/> (pass the fake clock's time to keep the origin's Date in step with it).
    /// </summary>
    protected static async Task Reply(HttpContext context, int status, string? spec, string body = "body", DateTimeOffset? now = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        var at = now ?? DateTimeOffset.UtcNow;
        foreach (var part in (spec ?? string.Empty).Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            var name = part[..colon].Trim();
            var value = part[(colon + 1)..].Trim();
            if (value.StartsWith('@') && int.TryParse(value[1..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
            {
                value = at.AddSeconds(seconds).ToString("r", CultureInfo.InvariantCulture);
            }

            response.Headers.Append(name, value);
        }

        if (status is 304 or 204 || HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        response.ContentType ??= "text/plain";
        response.ContentLength = bytes.Length;
        await response.Body.WriteAsync(bytes);
    }

    protected static async Task<(HttpResponseMessage Response, string Body)> SendAsync(CachedSession session, string path, string? headers = null, string method = "GET", Action<HttpRequestMessage>? setup = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        foreach (var part in (headers ?? string.Empty).Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            request.Headers.TryAddWithoutValidation(part[..colon].Trim(), part[(colon + 1)..].Trim());
        }

        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("abc");
        }

        setup?.Invoke(request);
        var response = await session.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }
}
