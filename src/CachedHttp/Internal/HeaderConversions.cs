using System.Net.Http.Headers;

namespace CachedHttp.Internal;

internal static class HeaderConversions
{
    /// <summary>Request headers never written to storage in clear.</summary>
    public static readonly HashSet<string> CredentialHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Proxy-Authorization", "Cookie",
    };

    public const string Redacted = "REDACTED";

    public static CachedHeaders ToCached(HttpHeaders headers, bool redactCredentials = false, ISet<string>? omit = null)
    {
        var fields = new List<KeyValuePair<string, string[]>>();
        foreach (var header in headers.NonValidated)
        {
            if (omit?.Contains(header.Key) == true)
            {
                continue;
            }

            var values = new string[header.Value.Count];
            var i = 0;
            foreach (var value in header.Value)
            {
                values[i++] = value;
            }

            if (redactCredentials && CredentialHeaders.Contains(header.Key))
            {
                values = [Redacted];
            }

            fields.Add(new KeyValuePair<string, string[]>(header.Key, values));
        }

        return CachedHeaders.FromOwned([.. fields]);
    }

    public static bool TryGetJoined(HttpHeaders headers, string name, out string value)
    {
        if (headers.NonValidated.TryGetValues(name, out var values))
        {
            value = values.Count == 1 ? values.ToString() : string.Join(", ", values);
            return true;
        }

        value = string.Empty;
        return false;
    }

    public static string? GetJoined(HttpRequestMessage request, string name)
    {
        if (TryGetJoined(request.Headers, name, out var value))
        {
            return value;
        }

        return request.Content is not null && TryGetJoined(request.Content.Headers, name, out value) ? value : null;
    }

    public static string? GetJoined(HttpResponseMessage response, string name)
    {
        if (TryGetJoined(response.Headers, name, out var value))
        {
            return value;
        }

        return response.Content is not null && TryGetJoined(response.Content.Headers, name, out value) ? value : null;
    }
}
