using System.Text;
using CachedHttp.Internal;
using Microsoft.Extensions.Logging;

namespace CachedHttp;

/// <content>The read and write paths used by <see cref="CachingHandler"/>.</content>
public partial class CacheBackend
{
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<byte[], DecodedEntry> _decoded = new();

    /// <summary>How many Vary lists an index remembers for one URL.</summary>
    private const int MaxNameSets = 8;

    /// <summary>
    /// Finds the stored response for a key: the key itself, else its redirect alias; then, if the URL has Vary
    /// variants, the one the request selects. Undecodable entries, and entries the options no longer allow, are
    /// deleted and reported as a miss. Expired entries are returned: the caller decides.
    /// </summary>
    /// <remarks>
    /// RFC 9111 §4.1: a variant is selected by the request header values named in <em>its own</em> response's Vary. The
    /// index remembers every Vary list its variants were stored with, so a variant stored under an older Vary list is
    /// still found; when several variants match, the most recent (by Date) is used.
    /// </remarks>
    internal async ValueTask<(CachedResponse? Response, string? StoredKey)> LookupAsync(string key, HttpRequestMessage? request, CancellationToken cancellationToken)
    {
        var storedKey = key;
        var viaAlias = false;
        var (bytes, length) = await ReadEntryAsync(key, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            var target = await Redirects.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            if (target is null)
            {
                return default;
            }

            storedKey = Encoding.UTF8.GetString(target);
            viaAlias = true;
            (bytes, length) = await ReadEntryAsync(storedKey, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                return default;
            }
        }

        CachedResponse? response;
        try
        {
            if (EntrySerializer.ReadKind(bytes) == EntryKind.VaryIndex)
            {
                if (request is null)
                {
                    return default;
                }

                (response, storedKey) = await SelectVariantAsync(storedKey, Serializer.DeserializeVaryIndex(bytes, storedKey), request, cancellationToken).ConfigureAwait(false);
                if (response is null)
                {
                    return default;
                }
            }
            else
            {
                response = await DecodeEntryAsync(bytes, length, storedKey, cancellationToken).ConfigureAwait(false);
            }
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

    /// <summary>§4.1: the most recent variant whose own Vary values match the request, trying each Vary list the index knows.</summary>
    private async ValueTask<(CachedResponse? Response, string StoredKey)> SelectVariantAsync(string urlKey, VaryIndex index, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        CachedResponse? best = null;
        var bestKey = urlKey;
        foreach (var names in NameSetsOf(index))
        {
            var variantKey = VariantKey(urlKey, VaryValuesOf(request, names, Options));
            var (bytes, length) = await ReadEntryAsync(variantKey, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                continue;
            }

            CachedResponse candidate;
            try
            {
                candidate = await DecodeEntryAsync(bytes, length, variantKey, cancellationToken).ConfigureAwait(false);
            }
            catch (CacheFormatException ex)
            {
                Log.CorruptEntry(Logger, ex.Message);
                CacheMetrics.RejectedEntry(Name, ex);
                await Responses.DeleteAsync(variantKey, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (VaryMatches(request, candidate.VaryValues) && (best is null || IsMoreRecent(candidate, best)))
            {
                best = candidate;
                bestKey = variantKey;
            }
        }

        return (best, bestKey);
    }

    /// <summary>§4.1: "the most recent response (as determined by the Date header field)", then the time it was stored.</summary>
    private static bool IsMoreRecent(CachedResponse candidate, CachedResponse best)
    {
        var candidateDate = HttpDate.TryParse(candidate.Headers.GetValue("Date"), out var c) ? c : candidate.CreatedAt;
        var bestDate = HttpDate.TryParse(best.Headers.GetValue("Date"), out var b) ? b : best.CreatedAt;
        return candidateDate != bestDate ? candidateDate > bestDate : candidate.CreatedAt > best.CreatedAt;
    }

    /// <summary>The Vary lists of an index, most recent first, each once (older indexes know only <see cref="VaryIndex.Names"/>).</summary>
    private static IEnumerable<List<string>> NameSetsOf(VaryIndex index)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var names in (IEnumerable<List<string>>)[index.Names, .. index.NameSets ?? []])
        {
            if (seen.Add(string.Join('\n', names)))
            {
                yield return names;
            }
        }
    }

    /// <summary>Stores a response and its aliases; for a response with Vary, stores a variant and updates the URL's index.</summary>
    /// <returns>
    /// <see langword="false"/> when the serialized entry is larger than <see cref="CacheOptions.MaxEntryBytes"/>: then
    /// nothing is written, and the value stored under its key before, now superseded, is deleted.
    /// </returns>
    internal async ValueTask<bool> SaveAsync(string key, CachedResponse response, DateTimeOffset? deleteAfter, CancellationToken cancellationToken)
    {
        if (response.StoredBody is { } storedBody)
        {
            // Its body is in storage, not in the record: copy it from there (see CacheBackend.Streaming.cs).
            await SaveStoredBodyAsync(key, response, storedBody, deleteAfter, cancellationToken).ConfigureAwait(false);
            return true;
        }

        var names = VaryNames(response);
        var storedKey = names.Count > 0 ? VariantKey(key, response.VaryValues.Count > 0 ? response.VaryValues : CachedHeaders.Empty) : key;
        var serialized = Serializer.Serialize(response, storedKey);
        if (serialized.Length > Options.MaxEntryBytes)
        {
            Log.EntryTooLarge(Logger, serialized.Length, Options.MaxEntryBytes.Value);
            CacheMetrics.Evicted(Name, "too-large");
            await Responses.DeleteAsync(storedKey, cancellationToken).ConfigureAwait(false);
            return false;
        }

        if (names.Count > 0)
        {
            var index = await ReadVaryIndexAsync(key, cancellationToken).ConfigureAwait(false) ?? new VaryIndex();

            // Remember every Vary list in use (most recent first), so that each variant stays selectable by its own (§4.1).
            var nameSets = new List<List<string>> { names };
            foreach (var known in NameSetsOf(index))
            {
                if (known.Count > 0 && !known.SequenceEqual(names, StringComparer.Ordinal) && nameSets.Count < MaxNameSets)
                {
                    nameSets.Add(known);
                }
            }

            index.Names = names;
            index.NameSets = nameSets.Count > 1 ? nameSets.Skip(1).ToList() : null;
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
            await Responses.WriteAsync(storedKey, serialized, deleteAfter, cancellationToken).ConfigureAwait(false);
            await Responses.WriteAsync(key, Serializer.SerializeVaryIndex(index, key), index.DeleteAfter, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await Responses.WriteAsync(key, serialized, deleteAfter, cancellationToken).ConfigureAwait(false);
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

        return true;
    }

    /// <summary>
    /// Deserializes a stored response. A storage that hands out the very array it stores, and never changes it
    /// (<see cref="BaseCache.ReturnsSharedValues"/>: the in-memory one), gets the decoded record remembered against that
    /// array, so that a hit does not parse the same metadata again; the record is immutable, so sharing it is safe.
    /// </summary>
    private CachedResponse Decode(byte[] bytes, string key)
    {
        if (!Responses.ReturnsSharedValues)
        {
            return Serializer.Deserialize(bytes, key);
        }

        if (_decoded.TryGetValue(bytes, out var known) && string.Equals(known.Key, key, StringComparison.Ordinal))
        {
            return known.Response;
        }

        var response = Serializer.Deserialize(bytes, key);
        _decoded.AddOrUpdate(bytes, new DecodedEntry(key, response));
        return response;
    }

    private sealed record DecodedEntry(string Key, CachedResponse Response);

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

    /// <summary>
    /// §4.1: normalizes a selecting header value so that semantically equal values match: list members trimmed and
    /// joined with a bare comma (so <c>" 1, 2 "</c>, <c>"1,2"</c> and two fields <c>1</c> and <c>2</c> are equal), inner
    /// whitespace collapsed, no whitespace around <c>;</c>, lower-cased for headers whose values are case-insensitive, and
    /// the members of <c>Accept-Encoding</c> sorted (their order carries no preference, RFC 9110 §12.5.3).
    /// </summary>
    internal static string NormalizeVaryValue(string name, string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => string.Join(' ', p.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Replace(" ;", ";", StringComparison.Ordinal).Replace("; ", ";", StringComparison.Ordinal));
        if (CaseInsensitiveHeaders.Contains(name))
        {
            parts = parts.Select(p => p.ToLowerInvariant());
        }

        if (name.Equals("accept-encoding", StringComparison.OrdinalIgnoreCase))
        {
            parts = parts.Order(StringComparer.Ordinal);
        }

        return string.Join(",", parts);
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
