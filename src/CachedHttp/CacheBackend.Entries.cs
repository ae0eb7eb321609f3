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
        var bytes = await Responses.ReadAsync(key, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            var target = await Redirects.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (target is null)
            {
                return default;
            }

            storedKey = Encoding.UTF8.GetString(target);
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

                var index = EntrySerializer.DeserializeVaryIndex(bytes);
                storedKey = VariantKey(storedKey, VaryValuesOf(request, index.Names));
                bytes = await Responses.ReadAsync(storedKey, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    return default;
                }
            }

            response = EntrySerializer.Deserialize(bytes);
        }
        catch (CacheFormatException ex)
        {
            Log.CorruptEntry(Logger, ex.Message);
            CacheMetrics.CorruptEntry(Name);
            await Responses.DeleteAsync(storedKey, cancellationToken).ConfigureAwait(false);
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
                CacheMetrics.Evicted(Name, "vary-limit");
            }

            index.DeleteAfter = deleteAfter is null || index.DeleteAfter is null && index.Variants.Count > 1 ? null : Later(index.DeleteAfter, deleteAfter);
            await Responses.WriteAsync(storedKey, EntrySerializer.Serialize(response), deleteAfter, cancellationToken).ConfigureAwait(false);
            await Responses.WriteAsync(key, EntrySerializer.SerializeVaryIndex(index), index.DeleteAfter, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await Responses.WriteAsync(key, EntrySerializer.Serialize(response), deleteAfter, cancellationToken).ConfigureAwait(false);
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

    /// <summary>The request's values of the named headers, normalized (§4.1: whitespace, and case where the header is case-insensitive).</summary>
    internal static CachedHeaders VaryValuesOf(HttpRequestMessage request, IEnumerable<string> names)
    {
        var fields = new List<KeyValuePair<string, string[]>>();
        foreach (var name in names)
        {
            var value = HeaderConversions.GetJoined(request, name);
            fields.Add(new KeyValuePair<string, string[]>(name, value is null ? [] : [NormalizeVaryValue(name, value)]));
        }

        return CachedHeaders.FromOwned([.. fields]);
    }

    private static bool VaryMatches(HttpRequestMessage request, CachedHeaders stored)
    {
        foreach (var field in stored)
        {
            var value = HeaderConversions.GetJoined(request, field.Key);
            var normalized = value is null ? null : NormalizeVaryValue(field.Key, value);
            var storedValue = field.Value.Length == 0 ? null : field.Value[0];
            if (!string.Equals(normalized, storedValue, StringComparison.Ordinal))
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
            return EntrySerializer.ReadKind(bytes) == EntryKind.VaryIndex ? EntrySerializer.DeserializeVaryIndex(bytes) : null;
        }
        catch (CacheFormatException)
        {
            return null;
        }
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b)
        => a is null || b is null ? null : a > b ? a : b;
}
