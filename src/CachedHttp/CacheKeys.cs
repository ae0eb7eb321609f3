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

        var scheme = url.Scheme.ToLowerInvariant();
        var host = url.Host.ToLowerInvariant();
        var port = url.IsDefaultPort ? null : url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var path = url.AbsolutePath;
        var rawQuery = url.Query;
        var query = rawQuery.Length > 1 ? NormalizePairs(rawQuery[1..], ignoredParameters, secrets) : string.Empty;
        return string.Concat(
            [scheme, "://", host, port is null ? string.Empty : ":", port ?? string.Empty, path.Length == 0 ? "/" : path, query.Length > 0 ? "?" : string.Empty, query]);
    }

    internal static CacheOptions DefaultOptions { get; } = new();

    /// <summary>Sorts <c>name=value</c> pairs by (name, value), keeping duplicates, dropping ignored names and hashing secret values.</summary>
    internal static string NormalizePairs(string pairs, ICollection<string>? ignored, Secrets.Hasher? secrets = null)
    {
        if (pairs.Length == 0)
        {
            return string.Empty;
        }

        if (IsNormalizedAlready(pairs, ignored, secrets))
        {
            return pairs;
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

    /// <summary>
    /// Tells whether <paramref name="pairs"/> is its own normal form: no empty pair, already sorted by (name, value), and no
    /// name that is ignored or secret. Names with escapes (<c>%</c>, <c>+</c>) take the slow path, which unescapes them.
    /// </summary>
    private static bool IsNormalizedAlready(string pairs, ICollection<string>? ignored, Secrets.Hasher? secrets)
    {
        var checkNames = ignored is { Count: > 0 } || (secrets is not null && secrets.HasSecretNames);
        var rest = pairs.AsSpan();
        ReadOnlySpan<char> previousName = default;
        ReadOnlySpan<char> previousValue = default;
        var first = true;
        while (true)
        {
            var end = rest.IndexOf('&');
            var pair = end < 0 ? rest : rest[..end];
            if (pair.IsEmpty)
            {
                return false;
            }

            var equals = pair.IndexOf('=');
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? default : pair[(equals + 1)..];
            if (checkNames && (name.ContainsAny('%', '+') || IsDropped(name, ignored, secrets, equals > 0)))
            {
                return false;
            }

            if (!first)
            {
                var byName = name.SequenceCompareTo(previousName);
                // Equal pairs take the slow path too: "a" and "a=" compare equal but are written differently.
                if (byName < 0 || (byName == 0 && value.SequenceCompareTo(previousValue) <= 0))
                {
                    return false;
                }
            }

            if (end < 0)
            {
                return true;
            }

            first = false;
            previousName = name;
            previousValue = value;
            rest = rest[(end + 1)..];
        }

        static bool IsDropped(ReadOnlySpan<char> name, ICollection<string>? ignored, Secrets.Hasher? secrets, bool hasValue)
            => (ignored is { Count: > 0 } && Secrets.Contains(ignored, name)) || (hasValue && secrets is not null && secrets.IsSecret(name));
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

    /// <summary>
    /// Remembers the keys of requests keyed by their method and URL alone (no body, no header that enters the key), by
    /// method and URL text, so that a repeated request skips URL normalization and hashing. One per backend.
    /// </summary>
    /// <remarks>
    /// Such a key is a function of the method, the URL text and the options that shape keys (ignored and secret
    /// parameters, matched and included headers, credential sharing and key); the memo is dropped when any of those is
    /// replaced or changes size, since the options may be changed after the backend is built. It holds at most
    /// <see cref="Capacity"/> keys and starts over when full.
    /// </remarks>
    internal sealed class KeyMemo
    {
        public const int Capacity = 4096;

        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Method, string Url), string> _keys = new();
        private KeyShape? _shape;
        private int _added;

        public string CreateKey(HttpRequestMessage request, CacheOptions options)
        {
            ArgumentNullException.ThrowIfNull(request);
            if (request.Content is not null || request.RequestUri is not { IsAbsoluteUri: true } url || KeyBuilder.HasKeyedHeaders(request, options))
            {
                return CacheKeys.CreateKey(request, options);
            }

            var credentialKey = Secrets.CredentialKeyOf(options);
            if (Volatile.Read(ref _shape) is not { } shape || !shape.Matches(options, credentialKey))
            {
                // A key-shaping option changed (or this is the first use): what is remembered may be wrong now.
                _keys.Clear();
                Volatile.Write(ref _shape, new KeyShape(options.IgnoredParameters, options.IgnoredParameters.Count, options.SecretParameters, options.SecretParameters.Count, credentialKey));
            }

            var id = (request.Method.Method, url.OriginalString);
            if (_keys.TryGetValue(id, out var key))
            {
                return key;
            }

            key = CacheKeys.CreateKey(request, options);

            // Counted here: ConcurrentDictionary.Count takes every lock of the dictionary.
            if (_keys.TryAdd(id, key) && Interlocked.Increment(ref _added) > Capacity)
            {
                _keys.Clear();
                Volatile.Write(ref _added, 0);
            }

            return key;
        }

        /// <summary>What of the options shapes the key of a body-less request without keyed headers.</summary>
        private sealed class KeyShape(ICollection<string> ignored, int ignoredCount, ICollection<string> secret, int secretCount, byte[] credentialKey)
        {
            public bool Matches(CacheOptions options, byte[] currentCredentialKey)
                => ReferenceEquals(ignored, options.IgnoredParameters) && ignoredCount == ignored.Count
                    && ReferenceEquals(secret, options.SecretParameters) && secretCount == secret.Count
                    && ReferenceEquals(credentialKey, currentCredentialKey);
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
            => Hash(method, NormalizeUrl(url, _ignored, _secrets), _body, _headers);

        /// <summary>
        /// Tells whether any header of the request enters its key (<see cref="HeaderMaterial"/> is not empty), without
        /// building the material: a request without such headers and without a body is keyed by its method and URL alone.
        /// </summary>
        public static bool HasKeyedHeaders(HttpRequestMessage request, CacheOptions options)
        {
            foreach (var header in request.Headers.NonValidated)
            {
                if (IsKeyedHeader(header.Key, options, options.IncludeHeaders))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// The SHA-256 hex digest of the UTF-8 of the upper-case method, the normalized URL, the body material and the
        /// header material, hashed in one call over one buffer (the same digest as appending them one by one).
        /// </summary>
        internal static string Hash(string method, string normalizedUrl, ReadOnlySpan<byte> body, string headers)
        {
            // An HTTP method is an ASCII token, upper-cased in place; anything else is upper-cased as a string first.
            var ascii = System.Text.Ascii.IsValid(method);
            if (!ascii)
            {
                method = method.ToUpperInvariant();
            }

            var length = Encoding.UTF8.GetByteCount(method) + Encoding.UTF8.GetByteCount(normalizedUrl) + body.Length + Encoding.UTF8.GetByteCount(headers);
            byte[]? rented = null;
            var buffer = length <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
            try
            {
                var written = Encoding.UTF8.GetBytes(method, buffer);
                if (ascii)
                {
                    System.Text.Ascii.ToUpperInPlace(buffer[..written], out _);
                }

                written += Encoding.UTF8.GetBytes(normalizedUrl, buffer[written..]);
                body.CopyTo(buffer[written..]);
                written += body.Length;
                written += Encoding.UTF8.GetBytes(headers, buffer[written..]);
                Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
                SHA256.HashData(buffer[..written], digest);
                return Convert.ToHexStringLower(digest);
            }
            finally
            {
                if (rented is not null)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }

        private static bool IsKeyedHeader(string name, CacheOptions options, bool all)
        {
            if (IsIgnoredHeader(name, options.IgnoredParameters) || IsConditional(name))
            {
                return false;
            }

            var isCredential = Secrets.IsCredentialHeader(name, options);
            if (isCredential)
            {
                return !options.ShareAcrossCredentials;
            }

            return all || options.MatchHeaders.Contains(name, StringComparer.OrdinalIgnoreCase);
        }

        private static string HeaderMaterial(HttpRequestMessage request, CacheOptions options, Secrets.Hasher secrets)
        {
            SortedDictionary<string, string>? selected = null;
            Add(request.Headers, options.IncludeHeaders);
            if (request.Content is not null)
            {
                Add(request.Content.Headers, options.IncludeHeaders);
            }

            if (selected is null)
            {
                return string.Empty;
            }

            var builder = new StringBuilder();
            foreach (var pair in selected)
            {
                builder.Append('\n').Append(pair.Key).Append(':').Append(pair.Value);
            }

            return builder.ToString();

            void Add(System.Net.Http.Headers.HttpHeaders headers, bool all)
            {
                foreach (var header in headers.NonValidated)
                {
                    if (!IsKeyedHeader(header.Key, options, all))
                    {
                        continue;
                    }

                    var value = string.Join(", ", header.Value);
                    selected ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
                    selected[header.Key.ToLowerInvariant()] = Secrets.IsCredentialHeader(header.Key, options) ? secrets.Hash(value) : value;
                }
            }
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
