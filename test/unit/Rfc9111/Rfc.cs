using System.Globalization;
using System.Net;
using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>
/// Builders for the RFC 9111 tables. Header specs are <c>"Name: value|Name: value"</c>; a value <c>@N</c> is the
/// HTTP-date N seconds after <see cref="T0"/>, the time the response is received.
/// </summary>
internal static class Rfc
{
    public const string NotStored = "NotStored";
    public const string Url = "https://example.com/resource";

    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly HashSet<string> ContentHeaderNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "Expires", "Last-Modified", "Content-Type", "Content-Length", "Content-Location", "Content-Encoding", "Content-Range", "Content-Language",
    };

    public static string Date(DateTimeOffset t) => t.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);

    public static string Date(int secondsFromT0) => Date(T0.AddSeconds(secondsFromT0));

    public static List<(string Name, string Value)> Fields(string? spec)
    {
        var fields = new List<(string, string)>();
        if (string.IsNullOrEmpty(spec))
        {
            return fields;
        }

        foreach (var part in spec.Split('|'))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            var name = part[..colon].Trim();
            var value = part[(colon + 1)..].Trim();
            if (value.StartsWith('@') && int.TryParse(value[1..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
            {
                value = Date(seconds);
            }

            fields.Add((name, value));
        }

        return fields;
    }

    public static (CachedHeaders Headers, CachedHeaders Content) Headers(string? spec)
    {
        var headers = new List<KeyValuePair<string, string[]>>();
        var content = new List<KeyValuePair<string, string[]>>();
        foreach (var (name, value) in Fields(spec))
        {
            var target = ContentHeaderNames.Contains(name) ? content : headers;
            var index = target.FindIndex(f => f.Key.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (index >= 0)
            {
                target[index] = new(target[index].Key, [.. target[index].Value, value]);
            }
            else
            {
                target.Add(new(name, [value]));
            }
        }

        return (new CachedHeaders(headers), new CachedHeaders(content));
    }

    /// <summary>A response received at <see cref="T0"/> (requested <paramref name="delay"/> seconds earlier).</summary>
    public static CachedResponse Response(string? spec, int status = 200, string method = "GET", string? requestHeaders = null, int delay = 0, string body = "body")
    {
        var (headers, content) = Headers(spec);
        return new CachedResponse
        {
            Method = method,
            Url = new Uri(Url),
            StatusCode = (HttpStatusCode)status,
            Headers = headers,
            ContentHeaders = content,
            RequestHeaders = Headers(requestHeaders).Headers,
            Body = System.Text.Encoding.UTF8.GetBytes(body),
            RequestTime = T0.AddSeconds(-delay),
            CreatedAt = T0,
        };
    }

    public static HttpRequestMessage Request(string? requestHeaders = null, string method = "GET")
    {
        var request = new HttpRequestMessage(new HttpMethod(method), Url);
        foreach (var (name, value) in Fields(requestHeaders))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public static CacheActions Actions(CacheOptions options, string? requestHeaders = null, RequestSettings? settings = null, string method = "GET")
    {
        using var request = Request(requestHeaders, method);
        return CachePolicy.ForRequest(request, options, settings ?? RequestSettings.None);
    }

    public static CacheOptions Options(Action<CacheOptions>? configure = null)
    {
        var options = new CacheOptions { CacheControl = true };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>The stored copy of a response as the handler would store it, or null when the policy refuses it.</summary>
    public static CachedResponse? Store(CachedResponse response, CacheOptions options, CacheActions? actions = null)
    {
        var candidate = CachePolicy.PrepareForStorage(response, options.CacheControl);
        var plan = CachePolicy.ForResponse(candidate, actions ?? Actions(options), options);
        return plan.Store ? candidate with { ExpiresAt = plan.ExpiresAt } : null;
    }

    /// <summary>
    /// Stores a response received at T0 and evaluates it <paramref name="secondsLater"/> seconds later for a request with
    /// the given headers: <see cref="NotStored"/> or the <see cref="StoredUse"/> name.
    /// </summary>
    public static string Outcome(string? responseSpec, int secondsLater, string? requestHeaders = null, int status = 200, CacheOptions? options = null, RequestSettings? settings = null)
    {
        options ??= Options();
        var stored = Store(Response(responseSpec, status), options);
        if (stored is null)
        {
            return NotStored;
        }

        var actions = Actions(options, requestHeaders, settings);
        return CachePolicy.Evaluate(stored, actions, options, T0.AddSeconds(secondsLater)).ToString();
    }

    /// <summary>The freshness granted at storage, in whole seconds after T0: "NotStored", "Never" or a number.</summary>
    public static string Lifetime(StoragePlan plan)
        => !plan.Store ? NotStored
            : plan.ExpiresAt is null ? "Never"
            : ((long)Math.Round((plan.ExpiresAt.Value - T0).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
