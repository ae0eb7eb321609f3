using System.Text;
using CachedHttp.Internal;
using Microsoft.Extensions.Logging;

namespace CachedHttp;

/// <content>The read and write paths used by <see cref="CachingHandler"/>.</content>
public partial class CacheBackend
{
    /// <summary>
    /// Finds the stored response for a key: the key itself, else its redirect alias; then, if the URL has Vary
    /// variants, the one the request selects. Undecodable entries, and entries the options no longer allow, are
    /// deleted and reported as a miss. Expired entries are returned: the caller decides.
    /// </summary>
    internal async ValueTask<(CachedResponse? Response, string? StoredKey)> LookupAsync(string key, HttpRequestMessage? request, CancellationToken cancellationToken)
    {
        var storedKey = key;
        var viaAlias = false;
        var bytes = await Responses.ReadAsync(key, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            var target = await Redirects.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (target is null)
            {
                return default;
            }

            storedKey = Encoding.UTF8.GetString(target);
            viaAlias = true;
            bytes = await Responses.ReadAsync(storedKey, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                return default;
            }
        }

        CachedResponse response;
        try
        {
            if (EntrySerializer.ReadKind(bytes) == EntryKind.VaryIndex)
            {
                if (request is null)
                {
                    return default;
                }

                var index = Serializer.DeserializeVaryIndex(bytes, storedKey);
                storedKey = VariantKey(storedKey, VaryValuesOf(request, index.Names, Options));
                bytes = await Responses.ReadAsync(storedKey, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    return default;
                }
            }

            response = Serializer.Deserialize(bytes, storedKey);
        }
        catch (CacheFormatException ex)
        {
            Log.CorruptEntry(Logger, ex.Message);
            CacheMetrics.RejectedEntry(Name, ex);
            await Responses.DeleteAsync(storedKey, cancellationToken).ConfigureAwait(false);
            return default;
        }

        // Redirect aliases are not signed; an authentic response names its aliases, so a forged alias cannot point a URL
        // at another URL's response.
        if (viaAlias && Serializer.Authenticates && !response.AliasKeys.Contains(key, StringComparer.Ordinal))
        {
            return default;
        }

        // §4.1: a stored variant is used only if the request's values of the Vary headers match.
        if (request is not null && response.VaryValues.Count > 0 && !VaryMatches(request, response.VaryValues))
        {
            return default;
        }

        if (!Options.AllowedCodes.Contains((int)response.StatusCode)
            || !Options.AllowedMethods.Contains(response.Method)
            || !await PassesFilterAsync(response, cancellationToken).ConfigureAwait(false))
        {
            await DeleteAsync(storedKey, cancellationToken).ConfigureAwait(false);
            return default;
        }

        return (response, storedKey);
    }

    /// <summary>Stores a response and its aliases; for a response with Vary, stores a variant and updates the URL's index.</summary>
    internal async ValueTask SaveAsync(string key, CachedResponse response, DateTimeOffset? deleteAfter, CancellationToken cancellationToken)
    {
        var names = VaryNames(response);
        var storedKey = key;
        if (names.Count > 0)
        {
            var values = response.VaryValues.Count > 0 ? response.VaryValues : CachedHeaders.Empty;
            storedKey = VariantKey(key, values);
            var index = await ReadVaryIndexAsync(key, cancellationToken).ConfigureAwait(false) ?? new VaryIndex();
            index.Names = names;
            index.Variants.Remove(storedKey);
            index.Variants.Add(storedKey);
            if (index.Variants.Count > MaxVariants)
            {
                var evicted = index.Variants[0];
                index.Variants.RemoveAt(0);
                await Responses.DeleteAsync(evicted, cancellationToken).ConfigureAwait(false);
            }

            index.DeleteAfter = deleteAfter is null || index.DeleteAfter is null && index.Variants.Count > 1 ? null : Later(index.DeleteAfter, deleteAfter);
            await Responses.WriteAsync(storedKey, Serializer.Serialize(response, storedKey), deleteAfter, cancellationToken).ConfigureAwait(false);
            await Responses.WriteAsync(key, Serializer.SerializeVaryIndex(index, key), index.DeleteAfter, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await Responses.WriteAsync(key, Serializer.Serialize(response, key), deleteAfter, cancellationToken).ConfigureAwait(false);
        }

        if (response.AliasKeys.Count > 0)
        {
            var target = Encoding.UTF8.GetBytes(key);
            foreach (var alias in response.AliasKeys)
            {
                if (alias != key)
                {
                    await Redirects.WriteAsync(alias, target, deleteAfter, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    internal async ValueTask<bool> PassesFilterAsync(CachedResponse response, CancellationToken cancellationToken)
    {
        if (Options.Filter is { } filter && !filter(response))
        {
            return false;
        }

        return Options.AsyncFilter is not { } asyncFilter || await asyncFilter(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The header names of a response's Vary, lower-case, without duplicates.</summary>
    internal static List<string> VaryNames(CachedResponse response)
    {
        var vary = response.Headers.GetValue("Vary");
        if (string.IsNullOrWhiteSpace(vary))
        {
            return [];
        }

        return vary.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(n => n != "*")
            .Select(n => n.ToLowerInvariant())
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The request's values of the named headers with default options (credentials hashed with the fixed key).</summary>
    internal static CachedHeaders VaryValuesOf(HttpRequestMessage request, IEnumerable<string> names)
        => VaryValuesOf(request, names, CacheKeys.DefaultOptions);

    /// <summary>
    /// The request's values of the named headers, normalized (§4.1: whitespace, and case where the header is case-insensitive);
    /// a credential's value is a keyed hash, so that it is never stored in clear.
    /// </summary>
    internal static CachedHeaders VaryValuesOf(HttpRequestMessage request, IEnumerable<string> names, CacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var fields = new List<KeyValuePair<string, string[]>>();
        byte[]? credentialKey = null;
        foreach (var name in names)
        {
            var value = HeaderConversions.GetJoined(request, name);
            var normalized = value is null ? null : NormalizeVaryValue(name, value);
            if (normalized is not null && Secrets.IsCredentialHeader(name, options))
            {
                normalized = Secrets.Hash(credentialKey ??= Secrets.CredentialKeyOf(options), normalized);
            }

            fields.Add(new KeyValuePair<string, string[]>(name, normalized is null ? [] : [normalized]));
        }

        return CachedHeaders.FromOwned([.. fields]);
    }

    private bool VaryMatches(HttpRequestMessage request, CachedHeaders stored)
    {
        var values = VaryValuesOf(request, stored.Select(f => f.Key), Options);
        for (var i = 0; i < stored.Count; i++)
        {
            var storedValue = stored[i].Value.Length == 0 ? null : stored[i].Value[0];
            var value = values[i].Value.Length == 0 ? null : values[i].Value[0];
            if (!string.Equals(value, storedValue, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static readonly HashSet<string> CaseInsensitiveHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "accept", "accept-charset", "accept-encoding", "accept-language", "content-encoding", "content-type", "origin", "host",
    };

    internal static string NormalizeVaryValue(string name, string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => string.Join(' ', p.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Replace(" ;", ";", StringComparison.Ordinal).Replace("; ", ";", StringComparison.Ordinal));
        var joined = string.Join(",", parts);
        return CaseInsensitiveHeaders.Contains(name) ? joined.ToLowerInvariant() : joined;
    }

    private async ValueTask<VaryIndex?> ReadVaryIndexAsync(string key, CancellationToken cancellationToken)
    {
        var bytes = await Responses.ReadAsync(key, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return null;
        }

        try
        {
            return EntrySerializer.ReadKind(bytes) == EntryKind.VaryIndex ? Serializer.DeserializeVaryIndex(bytes, key) : null;
        }
        catch (CacheFormatException)
        {
            return null;
        }
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b)
        => a is null || b is null ? null : a > b ? a : b;
}
