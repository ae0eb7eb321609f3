using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace CachedHttp.Internal;

/// <summary>
/// Keeps credentials and secret parameters out of storage: redaction of stored URLs and headers, and the keyed hash
/// (HMAC-SHA256 with <see cref="CacheOptions.CredentialKey"/>) with which they enter keys and stored Vary values.
/// </summary>
internal static class Secrets
{
    /// <summary>The prefix of a keyed hash in key material and stored Vary values.</summary>
    public const string HashPrefix = "hmac-sha256:";

    // The fixed application constant used when no key is configured: isolation without secrecy (see CacheOptions.CredentialKey).
    private static readonly byte[] FixedCredentialKey = SHA256.HashData("CachedHttp fixed credential key v1"u8);

    private static readonly ConditionalWeakTable<byte[], byte[]> DerivedKeys = [];

    private static ReadOnlySpan<byte> DerivationLabel => "CachedHttp credential key v1"u8;

    /// <summary>The key of the keyed hash: <see cref="CacheOptions.CredentialKey"/>, else derived from the first signing or encryption key, else the fixed constant.</summary>
    public static byte[] CredentialKeyOf(CacheOptions options)
    {
        if (options.CredentialKey is { Length: > 0 } configured)
        {
            return configured;
        }

        var serializer = options.Serializer;
        var root = serializer?.SigningKeys is { Count: > 0 } signing && signing[0] is { Length: > 0 } s ? s
            : serializer?.EncryptionKeys is { Count: > 0 } encryption && encryption[0] is { Length: > 0 } e ? e
            : null;
        return root is null ? FixedCredentialKey : DerivedKeys.GetValue(root, static r => HMACSHA256.HashData(r, DerivationLabel));
    }

    /// <summary>The keyed hash of a secret value, as it appears in key material and stored Vary values.</summary>
    public static string Hash(byte[] credentialKey, string value)
        => HashPrefix + Convert.ToHexStringLower(HMACSHA256.HashData(credentialKey, Encoding.UTF8.GetBytes(value)));

    /// <summary>Tells whether a name is in the secret set (case-insensitive whatever the set's comparer).</summary>
    public static bool IsSecretName(string name, ICollection<string>? secrets)
    {
        if (secrets is null || secrets.Count == 0)
        {
            return false;
        }

        if (secrets.Contains(name))
        {
            return true;
        }

        if (secrets is HashSet<string> set && ReferenceEquals(set.Comparer, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var candidate in secrets)
        {
            if (string.Equals(candidate, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>As <see cref="IsSecretName(string, ICollection{string}?)"/>, without making a string of the name when the set can look a span up.</summary>
    public static bool IsSecretName(ReadOnlySpan<char> name, ICollection<string>? secrets)
    {
        if (secrets is null || secrets.Count == 0)
        {
            return false;
        }

        return secrets is HashSet<string> set && ReferenceEquals(set.Comparer, StringComparer.OrdinalIgnoreCase) && set.TryGetAlternateLookup<ReadOnlySpan<char>>(out var lookup)
            ? lookup.Contains(name)
            : IsSecretName(name.ToString(), secrets);
    }

    /// <summary><see cref="ICollection{T}.Contains"/> of a span, without making a string of it when the set can look a span up.</summary>
    public static bool Contains(ICollection<string> set, ReadOnlySpan<char> value)
        => set is HashSet<string> hashSet && hashSet.TryGetAlternateLookup<ReadOnlySpan<char>>(out var lookup)
            ? lookup.Contains(value)
            : set.Contains(value.ToString());

    /// <summary>Tells whether a request header carries a credential: Authorization, Proxy-Authorization, Cookie, or a secret parameter name.</summary>
    public static bool IsCredentialHeader(string name, CacheOptions options)
        => HeaderConversions.CredentialHeaders.Contains(name) || IsSecretName(name, options.SecretParameters);

    /// <summary>
    /// The URL with the values of secret query and fragment parameters replaced by <c>REDACTED</c>, and user info
    /// replaced by <c>REDACTED</c>. The same string instance when there is nothing to redact.
    /// </summary>
    public static string RedactUrl(string url, ICollection<string>? secrets)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        var authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
        var authorityEnd = url.IndexOfAny(['/', '?', '#'], authorityStart);
        if (authorityEnd < 0)
        {
            authorityEnd = url.Length;
        }

        var at = schemeEnd < 0 ? -1 : url.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart);
        var queryStart = url.IndexOf('?', authorityEnd);
        var fragmentStart = url.IndexOf('#', authorityEnd);
        if (queryStart > fragmentStart && fragmentStart >= 0)
        {
            queryStart = -1; // a '?' inside the fragment
        }

        if (at < 0 && (secrets is null || secrets.Count == 0 || (queryStart < 0 && fragmentStart < 0)))
        {
            return url;
        }

        var builder = new StringBuilder(url.Length + 16);
        var pathStart = authorityEnd;
        if (at >= 0)
        {
            builder.Append(url, 0, authorityStart).Append(HeaderConversions.Redacted).Append(url, at, authorityEnd - at);
        }
        else
        {
            builder.Append(url, 0, authorityEnd);
        }

        var pathEnd = queryStart >= 0 ? queryStart : fragmentStart >= 0 ? fragmentStart : url.Length;
        builder.Append(url, pathStart, pathEnd - pathStart);
        if (queryStart >= 0)
        {
            var queryEnd = fragmentStart >= 0 ? fragmentStart : url.Length;
            builder.Append('?');
            AppendRedactedPairs(builder, url.AsSpan(queryStart + 1, queryEnd - queryStart - 1), secrets);
        }

        if (fragmentStart >= 0)
        {
            builder.Append('#');
            AppendRedactedPairs(builder, url.AsSpan(fragmentStart + 1), secrets);
        }

        var result = builder.ToString();
        return result == url ? url : result;
    }

    /// <summary>
    /// The inverse of <see cref="RedactUrl"/> for the caller of a request: a stored URL with each <c>REDACTED</c> value of a
    /// secret parameter replaced by the caller's own (the same occurrence of the same parameter in the request URL), and
    /// <c>REDACTED</c> user info by the request's. Null when a redacted value has no counterpart in the request (a redirect
    /// added it), so that a caller is never shown <c>REDACTED</c>, or a guess, as its URL. The same string instance when
    /// nothing is redacted.
    /// </summary>
    public static string? RestoreUrl(string stored, string request, ICollection<string>? secrets)
    {
        if (!stored.Contains(HeaderConversions.Redacted, StringComparison.Ordinal))
        {
            return stored;
        }

        var s = UrlLayout.Of(stored);
        var r = UrlLayout.Of(request);
        var builder = new StringBuilder(stored.Length + 64);
        builder.Append(stored, 0, s.AuthorityStart);
        if (s.At >= 0 && stored.AsSpan(s.AuthorityStart, s.At - s.AuthorityStart).SequenceEqual(HeaderConversions.Redacted))
        {
            if (r.At < 0)
            {
                return null;
            }

            builder.Append(request, r.AuthorityStart, r.At - r.AuthorityStart).Append(stored, s.At, s.PathStart - s.At);
        }
        else
        {
            builder.Append(stored, s.AuthorityStart, s.PathStart - s.AuthorityStart);
        }

        builder.Append(stored, s.PathStart, s.PathEnd - s.PathStart);
        if (s.QueryStart >= 0)
        {
            builder.Append('?');
            if (!AppendRestoredPairs(builder, s.Query(stored), r.Query(request), secrets))
            {
                return null;
            }
        }

        if (s.FragmentStart >= 0)
        {
            builder.Append('#');
            if (!AppendRestoredPairs(builder, s.Fragment(stored), r.Fragment(request), secrets))
            {
                return null;
            }
        }

        return builder.ToString();
    }

    /// <summary>A header list in which credential and secret-named fields are <c>REDACTED</c>; the same instance when none is.</summary>
    public static CachedHeaders RedactHeaders(CachedHeaders headers, CacheOptions options)
    {
        List<KeyValuePair<string, string[]>>? fields = null;
        for (var i = 0; i < headers.Count; i++)
        {
            var field = headers[i];
            if (IsCredentialHeader(field.Key, options) && !(field.Value.Length == 1 && field.Value[0] == HeaderConversions.Redacted))
            {
                fields ??= [.. headers];
                fields[i] = new KeyValuePair<string, string[]>(field.Key, [HeaderConversions.Redacted]);
            }
        }

        return fields is null ? headers : CachedHeaders.FromOwned([.. fields]);
    }

    /// <summary>Vary values in which every credential value is a keyed hash; the same instance when all are already.</summary>
    public static CachedHeaders HashCredentialValues(CachedHeaders varyValues, CacheOptions options)
    {
        List<KeyValuePair<string, string[]>>? fields = null;
        byte[]? key = null;
        for (var i = 0; i < varyValues.Count; i++)
        {
            var field = varyValues[i];
            if (!IsCredentialHeader(field.Key, options) || field.Value.All(v => v is null || v.StartsWith(HashPrefix, StringComparison.Ordinal)))
            {
                continue;
            }

            key ??= CredentialKeyOf(options);
            fields ??= [.. varyValues];
            fields[i] = new KeyValuePair<string, string[]>(
                field.Key,
                field.Value.Select(v => v is null || v.StartsWith(HashPrefix, StringComparison.Ordinal) ? v! : Hash(key, v)).ToArray());
        }

        return fields is null ? varyValues : CachedHeaders.FromOwned([.. fields]);
    }

    /// <summary>Hashes secret values for one key computation; the credential key is derived at most once.</summary>
    internal sealed class Hasher(CacheOptions options)
    {
        private byte[]? _key;

        public bool IsSecret(string name) => IsSecretName(name, options.SecretParameters);

        public bool IsSecret(ReadOnlySpan<char> name) => IsSecretName(name, options.SecretParameters);

        public bool HasSecretNames => options.SecretParameters is { Count: > 0 };

        public string Hash(string value) => Secrets.Hash(_key ??= CredentialKeyOf(options), value);
    }

    private static void AppendRedactedPairs(StringBuilder builder, ReadOnlySpan<char> pairs, ICollection<string>? secrets)
    {
        var first = true;
        foreach (var range in pairs.Split('&'))
        {
            var pair = pairs[range];
            if (!first)
            {
                builder.Append('&');
            }

            first = false;
            var equals = pair.IndexOf('=');
            if (equals > 0 && IsSecretName(Unescape(pair[..equals]), secrets))
            {
                builder.Append(pair[..(equals + 1)]).Append(HeaderConversions.Redacted);
            }
            else
            {
                builder.Append(pair);
            }
        }
    }

    /// <summary>Copies <paramref name="stored"/> pairs, each REDACTED secret value replaced by the same occurrence's value in <paramref name="request"/>; false when one has none.</summary>
    private static bool AppendRestoredPairs(StringBuilder builder, ReadOnlySpan<char> stored, ReadOnlySpan<char> request, ICollection<string>? secrets)
    {
        Dictionary<string, int>? occurrences = null;
        var first = true;
        foreach (var range in stored.Split('&'))
        {
            var pair = stored[range];
            if (!first)
            {
                builder.Append('&');
            }

            first = false;
            var equals = pair.IndexOf('=');
            if (equals <= 0 || !pair[(equals + 1)..].SequenceEqual(HeaderConversions.Redacted) || !IsSecretName(Unescape(pair[..equals]), secrets))
            {
                builder.Append(pair);
                continue;
            }

            var name = pair[..equals].ToString();
            occurrences ??= new Dictionary<string, int>(StringComparer.Ordinal);
            var occurrence = occurrences.GetValueOrDefault(name);
            occurrences[name] = occurrence + 1;
            var found = false;
            foreach (var requestRange in request.Split('&'))
            {
                var candidate = request[requestRange];
                if (candidate.Length > name.Length && candidate[name.Length] == '=' && candidate.StartsWith(name, StringComparison.Ordinal) && occurrence-- == 0)
                {
                    builder.Append(candidate);
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    private static string Unescape(ReadOnlySpan<char> name)
    {
        var text = name.ToString();
        return text.Contains('%', StringComparison.Ordinal) || text.Contains('+', StringComparison.Ordinal)
            ? Uri.UnescapeDataString(text.Replace('+', ' '))
            : text;
    }

    /// <summary>Where the parts of an absolute URL start and end, found as <see cref="RedactUrl"/> finds them.</summary>
    private readonly record struct UrlLayout(int AuthorityStart, int At, int PathStart, int PathEnd, int QueryStart, int FragmentStart, int Length)
    {
        public static UrlLayout Of(string url)
        {
            var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
            var authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
            var authorityEnd = url.IndexOfAny(['/', '?', '#'], authorityStart);
            if (authorityEnd < 0)
            {
                authorityEnd = url.Length;
            }

            var at = schemeEnd < 0 ? -1 : url.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart);
            var queryStart = url.IndexOf('?', authorityEnd);
            var fragmentStart = url.IndexOf('#', authorityEnd);
            if (queryStart > fragmentStart && fragmentStart >= 0)
            {
                queryStart = -1; // a '?' inside the fragment
            }

            var pathEnd = queryStart >= 0 ? queryStart : fragmentStart >= 0 ? fragmentStart : url.Length;
            return new UrlLayout(authorityStart, at, authorityEnd, pathEnd, queryStart, fragmentStart, url.Length);
        }

        public ReadOnlySpan<char> Query(string url)
            => QueryStart < 0 ? [] : url.AsSpan(QueryStart + 1, (FragmentStart >= 0 ? FragmentStart : Length) - QueryStart - 1);

        public ReadOnlySpan<char> Fragment(string url) => FragmentStart < 0 ? [] : url.AsSpan(FragmentStart + 1);
    }
}
