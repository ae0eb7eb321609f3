using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CachedHttp.Internal;

namespace CachedHttp;

/// <summary>
/// Creates cache keys: the SHA-256 hex digest of the upper-case method, the normalized URL, the normalized body
/// and, when configured, request headers — the same keys as aiohttp-client-cache and requests-cache.
/// </summary>
/// <remarks>
/// <para>
/// URL normalization: lower-case scheme and host, default port and user info dropped, empty path becomes
/// <c>/</c>, fragment dropped, query pairs sorted by (name, value) with duplicates kept and ignored parameters removed.
/// JSON bodies are keyed with object keys sorted; form bodies with their pairs sorted; other bodies by their bytes.
/// </para>
/// <para>
/// Unless <see cref="CacheOptions.ShareAcrossCredentials"/> is set, the credentials of a request
/// (<c>Authorization</c>, <c>Proxy-Authorization</c>, <c>Cookie</c>, and headers named in
/// <see cref="CacheOptions.SecretParameters"/>) are part of the key, so that a response to one credential is never
/// served to another. Credentials and secret parameters (query, form and top-level JSON fields) enter the key as a keyed
/// hash (HMAC-SHA256 with <see cref="CacheOptions.CredentialKey"/>), so that a stored key cannot be used to test guesses
/// of a password or token without that key.
/// </para>
/// </remarks>
public static class CacheKeys
{
    /// <summary>Creates the cache key of a request.</summary>
    /// <param name="request">A request with an absolute URI. Its content, if any, is read (buffer it first if it is a one-shot stream).</param>
    /// <param name="options">The options that shape keys (ignored parameters, headers, credential key); defaults when null.</param>
    /// <exception cref="ArgumentException">The request has no absolute URI.</exception>
    /// <remarks>
    /// The key of a request with credentials or secret parameters depends on the credential key of the options (see
    /// <see cref="CacheOptions.CredentialKey"/>): use <see cref="CacheBackend.CreateKey"/> to get the key a backend uses.
    /// </remarks>
    public static string CreateKey(HttpRequestMessage request, CacheOptions? options = null)
        => KeyBuilder.For(request, options ?? DefaultOptions).KeyFor(request.Method.Method, request.RequestUri!);

    /// <summary>Normalizes a URL as keys see it.</summary>
    /// <param name="url">An absolute URL.</param>
    /// <param name="ignoredParameters">Query parameter names to remove.</param>
    public static string NormalizeUrl(Uri url, ICollection<string>? ignoredParameters = null)
        => NormalizeUrl(url, ignoredParameters, secrets: null);

    internal static string NormalizeUrl(Uri url, ICollection<string>? ignoredParameters, Secrets.Hasher? secrets)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException($"The URL '{url}' is not absolute.", nameof(url));
        }

        var builder = new StringBuilder(url.OriginalString.Length + 8);
        builder.Append(url.Scheme.ToLowerInvariant()).Append("://").Append(url.Host.ToLowerInvariant());
        if (!url.IsDefaultPort)
        {
            builder.Append(':').Append(url.Port);
        }

        var path = url.AbsolutePath;
        builder.Append(path.Length == 0 ? "/" : path);
        var query = NormalizePairs(url.Query.TrimStart('?'), ignoredParameters, secrets);
        if (query.Length > 0)
        {
            builder.Append('?').Append(query);
        }

        return builder.ToString();
    }

    internal static CacheOptions DefaultOptions { get; } = new();

    /// <summary>Sorts <c>name=value</c> pairs by (name, value), keeping duplicates, dropping ignored names and hashing secret values.</summary>
    internal static string NormalizePairs(string pairs, ICollection<string>? ignored, Secrets.Hasher? secrets = null)
    {
        if (pairs.Length == 0)
        {
            return string.Empty;
        }

        var list = new List<(string Name, string Value, string Raw)>();
        foreach (var raw in pairs.Split('&'))
        {
            if (raw.Length == 0)
            {
                continue;
            }

            var equals = raw.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? raw : raw[..equals];
            var value = equals < 0 ? string.Empty : raw[(equals + 1)..];
            if (ignored is { Count: > 0 } && ignored.Contains(Uri.UnescapeDataString(name.Replace('+', ' '))))
            {
                continue;
            }

            if (secrets is not null && equals > 0 && secrets.IsSecret(Uri.UnescapeDataString(name.Replace('+', ' '))))
            {
                value = secrets.Hash(value);
                list.Add((name, value, name + "=" + value));
                continue;
            }

            list.Add((name, value, raw));
        }

        list.Sort(static (a, b) =>
        {
            var byName = string.CompareOrdinal(a.Name, b.Name);
            return byName != 0 ? byName : string.CompareOrdinal(a.Value, b.Value);
        });
        return string.Join('&', list.Select(p => p.Raw));
    }

    internal static byte[] NormalizeBody(ReadOnlySpan<byte> body, string? mediaType, ICollection<string> ignored, Secrets.Hasher? secrets = null)
    {
        if (body.IsEmpty)
        {
            return [];
        }

        if (mediaType is not null && mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var node = JsonNode.Parse(body);
                if (node is JsonObject root)
                {
                    foreach (var name in ignored)
                    {
                        root.Remove(name);
                    }

                    if (secrets is not null)
                    {
                        foreach (var name in root.Select(p => p.Key).Where(secrets.IsSecret).ToList())
                        {
                            root[name] = secrets.Hash(root[name]?.ToJsonString() ?? "null");
                        }
                    }
                }

                return Encoding.UTF8.GetBytes(SortJson(node)?.ToJsonString() ?? "null");
            }
            catch (JsonException)
            {
                return body.ToArray();
            }
        }

        if (mediaType is not null && mediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.UTF8.GetBytes(NormalizePairs(Encoding.UTF8.GetString(body), ignored, secrets));
        }

        return body.ToArray();
    }

    private static JsonNode? SortJson(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var sorted = new JsonObject();
                foreach (var pair in obj.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
                {
                    obj.Remove(pair.Key);
                    sorted[pair.Key] = SortJson(pair.Value);
                }

                return sorted;
            case JsonArray array:
                var items = array.ToList();
                array.Clear();
                var result = new JsonArray();
                foreach (var item in items)
                {
                    result.Add(SortJson(item));
                }

                return result;
            default:
                return node;
        }
    }

    /// <summary>The parts of a key that do not depend on the URL, computed once per request (and reused for redirect hops).</summary>
    internal sealed class KeyBuilder
    {
        private readonly byte[] _body;
        private readonly string _headers;
        private readonly ICollection<string> _ignored;
        private readonly Secrets.Hasher _secrets;

        private KeyBuilder(byte[] body, string headers, ICollection<string> ignored, Secrets.Hasher secrets)
        {
            _body = body;
            _headers = headers;
            _ignored = ignored;
            _secrets = secrets;
        }

        public static KeyBuilder For(HttpRequestMessage request, CacheOptions options)
        {
            ArgumentNullException.ThrowIfNull(request);
            if (request.RequestUri is not { IsAbsoluteUri: true })
            {
                throw new ArgumentException("The request has no absolute URI; set HttpClient.BaseAddress or use an absolute URL.", nameof(request));
            }

            var body = Array.Empty<byte>();
            var secrets = new Secrets.Hasher(options);
            if (request.Content is { } content)
            {
                using var stream = content.ReadAsStream();
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                if (stream.CanSeek)
                {
                    stream.Position = 0;
                }

                body = NormalizeBody(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), content.Headers.ContentType?.MediaType, options.IgnoredParameters, secrets);
            }

            return new KeyBuilder(body, HeaderMaterial(request, options, secrets), options.IgnoredParameters, secrets);
        }

        public string KeyFor(string method, Uri url)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(Encoding.UTF8.GetBytes(method.ToUpperInvariant()));
            hash.AppendData(Encoding.UTF8.GetBytes(NormalizeUrl(url, _ignored, _secrets)));
            hash.AppendData(_body);
            if (_headers.Length > 0)
            {
                hash.AppendData(Encoding.UTF8.GetBytes(_headers));
            }

            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }

        private static string HeaderMaterial(HttpRequestMessage request, CacheOptions options, Secrets.Hasher secrets)
        {
            var selected = new SortedDictionary<string, string>(StringComparer.Ordinal);
            void Add(System.Net.Http.Headers.HttpHeaders headers, bool all)
            {
                foreach (var header in headers.NonValidated)
                {
                    var isCredential = Secrets.IsCredentialHeader(header.Key, options);
                    var wanted = all
                        || (isCredential && !options.ShareAcrossCredentials)
                        || options.MatchHeaders.Contains(header.Key, StringComparer.OrdinalIgnoreCase);
                    if (!wanted || IsIgnoredHeader(header.Key, options.IgnoredParameters) || IsConditional(header.Key))
                    {
                        continue;
                    }

                    if (isCredential && options.ShareAcrossCredentials)
                    {
                        continue;
                    }

                    var value = string.Join(", ", header.Value);
                    selected[header.Key.ToLowerInvariant()] = isCredential ? secrets.Hash(value) : value;
                }
            }

            Add(request.Headers, options.IncludeHeaders);
            if (request.Content is not null)
            {
                Add(request.Content.Headers, options.IncludeHeaders);
            }

            if (selected.Count == 0)
            {
                return string.Empty;
            }

            var builder = new StringBuilder();
            foreach (var pair in selected)
            {
                builder.Append('\n').Append(pair.Key).Append(':').Append(pair.Value);
            }

            return builder.ToString();
        }

        private static bool IsIgnoredHeader(string name, ICollection<string> ignored)
        {
            foreach (var candidate in ignored)
            {
                if (string.Equals(candidate, name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        // Conditional headers added by the cache itself must not change the key.
        private static bool IsConditional(string name)
            => name.Equals("If-None-Match", StringComparison.OrdinalIgnoreCase) || name.Equals("If-Modified-Since", StringComparison.OrdinalIgnoreCase);
    }
}
