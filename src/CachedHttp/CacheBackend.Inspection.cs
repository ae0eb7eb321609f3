using System.Runtime.CompilerServices;
using System.Text;
using CachedHttp.Internal;
using CachedHttp.Policy;

namespace CachedHttp;

/// <content>
/// Inspection and management: listing entries with their metadata (read from the front of each stored value where the
/// storage can read a prefix), filtered deletes, expiration resets and statistics.
/// </content>
public partial class CacheBackend
{
    /// <summary>How many leading bytes of each value a listing asks for: the clear header and the metadata of nearly every response.</summary>
    private const int InspectionHeadBytes = 16 * 1024;

    /// <summary>With encryption the metadata can be read only from the whole value: values up to this size come whole with the listing.</summary>
    private const int EncryptedInspectionHeadBytes = 1024 * 1024;

    /// <summary>How many keys one bulk delete takes.</summary>
    private const int DeleteBatchSize = 500;

    private static readonly CacheEntryFilter FreshOnly = new() { Expired = false };

    /// <summary>Whether a storage type overrides a method of <see cref="BaseCache"/> (so that its own, cheaper, way is used).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(Type Type, string Method), bool> Overridden = new();

    /// <summary>Lists the stored responses with their metadata, without their bodies where the storage can read a prefix of a value.</summary>
    /// <param name="filter">Which responses to list; every response when null.</param>
    /// <param name="cancellationToken">A token to cancel the enumeration.</param>
    /// <returns>The matching entries, in no particular order (the storage's).</returns>
    /// <remarks>
    /// <para>
    /// Each Vary variant is listed as an entry of its own, under its own key; Vary indexes and redirect aliases are not
    /// responses and are not listed. Values that cannot be read with this backend's options (corrupt, or signed or
    /// encrypted with other keys) are skipped; <see cref="GetStatisticsAsync"/> counts them.
    /// </para>
    /// <para>
    /// Cost: one pass over the store. Storages that can read a prefix of a value (SQLite, files, Redis) return the
    /// metadata at the front of each entry; MongoDB and DynamoDB read whole items. With encryption on, each entry is
    /// read whole and decrypted. "Now" is taken once, from <see cref="CacheOptions.TimeProvider"/>, when the enumeration starts.
    /// </para>
    /// </remarks>
    public async IAsyncEnumerable<CacheEntry> GetEntriesAsync(CacheEntryFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var now = Now;
        await foreach (var scanned in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            if (scanned.Entry is { } entry && (filter is null || filter.Matches(entry, now)))
            {
                yield return entry;
            }
        }
    }

    /// <summary>Counts the stored responses that match a filter (each Vary variant once).</summary>
    /// <param name="filter">Which responses to count; <see cref="CacheEntryFilter.All"/> for all.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of matching responses.</returns>
    /// <remarks>One pass over the store, as <see cref="GetEntriesAsync"/>. <see cref="CountAsync(CancellationToken)"/> counts stored values, faster.</remarks>
    public async ValueTask<long> CountAsync(CacheEntryFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        long count = 0;
        await foreach (var unused in GetEntriesAsync(filter, cancellationToken).ConfigureAwait(false))
        {
            count++;
        }

        return count;
    }

    /// <summary>Deletes the stored responses that match a filter, with their redirect aliases.</summary>
    /// <param name="filter">Which responses to delete. <see cref="CacheEntryFilter.All"/> deletes every response.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of responses deleted.</returns>
    /// <remarks>
    /// <para>
    /// Selects as <see cref="GetEntriesAsync"/> lists, then deletes in batches. A Vary variant is deleted alone; when
    /// every variant of a URL is deleted, its Vary index and the redirect aliases that lead to it go too. Unreadable
    /// values are never matched (<see cref="DeleteExpiredResponsesAsync"/> removes them).
    /// </para>
    /// <para>Not atomic: a response stored while the store is enumerated may or may not be deleted.</para>
    /// </remarks>
    public async ValueTask<int> DeleteAsync(CacheEntryFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var now = Now;
        var matchedKeys = new HashSet<string>(StringComparer.Ordinal);
        var aliasesOf = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var indexes = new List<(string Key, List<string> Variants)>();
        await foreach (var scanned in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            if (scanned.Entry is { } entry && filter.Matches(entry, now))
            {
                matchedKeys.Add(entry.Key);
                if (scanned.Aliases is { Count: > 0 } aliases)
                {
                    aliasesOf[entry.Key] = aliases;
                }
            }
            else if (scanned.Index is { } index)
            {
                indexes.Add((scanned.Key, index.Variants));
            }
        }

        if (matchedKeys.Count == 0)
        {
            return 0;
        }

        // Aliases of a variant lead to its URL's index: they stay while another variant of that URL does.
        var emptiedIndexes = new List<string>();
        var keptVariants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (indexKey, variants) in indexes)
        {
            if (!variants.Any(matchedKeys.Contains))
            {
                continue;
            }

            var remaining = false;
            foreach (var variant in variants.Where(v => !matchedKeys.Contains(v)))
            {
                if (await Responses.ContainsAsync(variant, cancellationToken).ConfigureAwait(false))
                {
                    remaining = true;
                    break;
                }
            }

            if (remaining)
            {
                keptVariants.UnionWith(variants);
            }
            else
            {
                emptiedIndexes.Add(indexKey);
            }
        }

        var aliasKeys = aliasesOf.Where(pair => !keptVariants.Contains(pair.Key)).SelectMany(pair => pair.Value).Distinct(StringComparer.Ordinal);
        var deleted = await DeleteInBatchesAsync(Responses, matchedKeys, cancellationToken).ConfigureAwait(false);
        await DeleteInBatchesAsync(Responses, emptiedIndexes, cancellationToken).ConfigureAwait(false);
        await DeleteInBatchesAsync(Redirects, aliasKeys, cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    /// <summary>Deletes the stored responses for which <paramref name="predicate"/> is true, with their aliases (see <see cref="DeleteAsync(CacheEntryFilter, CancellationToken)"/>).</summary>
    /// <param name="predicate">The condition, called once per stored response.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of responses deleted.</returns>
    public ValueTask<int> DeleteWhereAsync(Func<CacheEntry, bool> predicate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return DeleteAsync(new CacheEntryFilter { Predicate = predicate }, cancellationToken);
    }

    /// <summary>Deletes the responses stored more than <paramref name="age"/> ago (whether expired or not), with their aliases.</summary>
    /// <param name="age">The age: responses whose <see cref="CacheEntry.CreatedAt"/> is strictly before now minus this are deleted.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of responses deleted.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="age"/> is negative.</exception>
    public ValueTask<int> DeleteOlderThanAsync(TimeSpan age, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(age, TimeSpan.Zero);
        return DeleteAsync(new CacheEntryFilter { OlderThan = age }, cancellationToken);
    }

    /// <summary>
    /// Deletes the stored responses of URLs (keyed as <see cref="DeleteUrlAsync"/> keys a body-less request with no
    /// extra headers), with their Vary variants and redirect aliases, in batches.
    /// </summary>
    /// <param name="urls">Absolute HTTP URLs. Every one is checked before anything is deleted.</param>
    /// <param name="method">The method; GET when null.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of URLs whose response was stored (and is now deleted).</returns>
    /// <exception cref="ArgumentException">A URL is null, empty, or not an absolute HTTP URL.</exception>
    public async ValueTask<int> DeleteUrlsAsync(IEnumerable<string> urls, HttpMethod? method = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(urls);
        var name = (method ?? HttpMethod.Get).Method;
        var keys = new List<string>();
        foreach (var url in urls)
        {
            keys.Add(KeyForUrl(ParseUrl(url, nameof(urls)), name));
        }

        return await DeleteKeysAsync(keys, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the stored responses of requests (keyed by <see cref="CreateKey"/>), with their Vary variants and redirect aliases, in batches.</summary>
    /// <param name="requests">The requests, with an absolute URI each. Every one is keyed before anything is deleted.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of requests whose response was stored (and is now deleted).</returns>
    /// <exception cref="ArgumentException">A request is null or has no absolute URI.</exception>
    public async ValueTask<int> DeleteRequestsAsync(IEnumerable<HttpRequestMessage> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var keys = new List<string>();
        foreach (var request in requests)
        {
            if (request?.RequestUri is not { IsAbsoluteUri: true })
            {
                throw new ArgumentException(request is null ? "A request is null." : "A request has no absolute URI.", nameof(requests));
            }

            keys.Add(CreateKey(request));
        }

        return await DeleteKeysAsync(keys, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives stored responses a new expiration, computed from now — as if they had just been stored with
    /// <paramref name="expireAfter"/> — and moves their storage delete-after time with it.
    /// </summary>
    /// <param name="expireAfter">
    /// The expiration: a time span from now, an instant, <see cref="Expiration.Never"/>, or
    /// <see cref="Expiration.ExpireImmediately"/> (stale at once: revalidated on next use when they have validators).
    /// </param>
    /// <param name="filter">Which responses; every response when null.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The number of responses updated.</returns>
    /// <remarks>
    /// <para>
    /// Each matching response is read whole, authenticated, and written back with this backend's serializer (so with
    /// its current compression, signing and encryption). Redirect aliases that lead to it and the Vary index of its URL
    /// get the matching delete-after time. Responses that cannot be read are left alone.
    /// </para>
    /// <para>Not atomic: a response replaced between the read and the write is overwritten by the older one with its new expiration.</para>
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="expireAfter"/> is <see cref="Expiration.DoNotCache"/> (delete the responses instead).</exception>
    public async ValueTask<int> ResetExpirationAsync(Expiration expireAfter, CacheEntryFilter? filter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expireAfter);
        if (expireAfter.Kind == ExpirationKind.DoNotCache)
        {
            throw new ArgumentException("Expiration.DoNotCache cannot be given to stored responses; delete them with DeleteAsync instead.", nameof(expireAfter));
        }

        var now = Now;
        DateTimeOffset? expiresAt = expireAfter.Kind == ExpirationKind.After ? CachePolicy.SafeAdd(now, expireAfter.TimeSpan) : expireAfter.GetExpiresAt(now);

        // Select first, then rewrite: writing while a storage enumerates could list an entry twice or skip one.
        var matched = new List<string>();
        var indexOf = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var scanned in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            if (scanned.Entry is { } entry && (filter is null || filter.Matches(entry, now)))
            {
                matched.Add(entry.Key);
            }
            else if (scanned.Index is { } index)
            {
                foreach (var variant in index.Variants)
                {
                    indexOf[variant] = scanned.Key;
                }
            }
        }

        var updated = 0;
        var aliasDeleteAfter = new Dictionary<string, (string Target, DateTimeOffset? DeleteAfter)>(StringComparer.Ordinal);
        var indexDeleteAfter = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
        foreach (var key in matched)
        {
            var bytes = await Responses.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            CachedResponse response;
            try
            {
                if (bytes is null || EntrySerializer.ReadKind(bytes) != EntryKind.Response)
                {
                    continue;
                }

                response = Serializer.Deserialize(bytes, key) with { ExpiresAt = expiresAt };
            }
            catch (CacheFormatException)
            {
                continue;
            }

            var deleteAfter = DeleteAfterOf(response);
            await Responses.WriteAsync(key, Serializer.Serialize(response, key), deleteAfter, cancellationToken).ConfigureAwait(false);
            updated++;
            var target = indexOf.TryGetValue(key, out var indexKey) ? indexKey : key;
            if (indexKey is not null)
            {
                indexDeleteAfter[indexKey] = indexDeleteAfter.TryGetValue(indexKey, out var known) ? Later(known, deleteAfter) : deleteAfter;
            }

            foreach (var alias in response.AliasKeys.Where(a => a != target))
            {
                aliasDeleteAfter[alias] = aliasDeleteAfter.TryGetValue(alias, out var known) ? (target, Later(known.DeleteAfter, deleteAfter)) : (target, deleteAfter);
            }
        }

        foreach (var (indexKey, deleteAfter) in indexDeleteAfter)
        {
            await ExtendVaryIndexAsync(indexKey, deleteAfter, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (alias, (target, deleteAfter)) in aliasDeleteAfter)
        {
            // Only an alias that still leads to this response: the hop may lead elsewhere since.
            var current = await Redirects.ReadAsync(alias, cancellationToken).ConfigureAwait(false);
            if (current is not null && Encoding.UTF8.GetString(current) == target)
            {
                await Redirects.WriteAsync(alias, current, deleteAfter, cancellationToken).ConfigureAwait(false);
            }
        }

        return updated;
    }

    /// <summary>Counts what the cache stores and sums its sizes, in one pass over the responses.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The counts and sizes.</returns>
    /// <remarks>
    /// Reads what <see cref="GetEntriesAsync"/> reads; the redirect aliases are counted by their store. Bytes are as each
    /// store counts them (<see cref="BaseCache.GetTotalBytesAsync"/>, what <see cref="CacheOptions.MaxBytes"/> bounds).
    /// </remarks>
    public async ValueTask<CacheStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var now = Now;
        long responses = 0, expired = 0, indexes = 0, unreadable = 0, bodyBytes = 0, responseBytes = 0;
        DateTimeOffset? oldest = null, newest = null;
        await foreach (var scanned in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            responseBytes += scanned.Size;
            if (scanned.Entry is { } entry)
            {
                responses++;
                bodyBytes += entry.BodySize;
                expired += entry.IsExpired(now) ? 1 : 0;
                oldest = oldest is null || entry.CreatedAt < oldest ? entry.CreatedAt : oldest;
                newest = newest is null || entry.CreatedAt > newest ? entry.CreatedAt : newest;
            }
            else if (scanned.Index is not null)
            {
                indexes++;
            }
            else
            {
                unreadable++;
            }
        }

        return new CacheStatistics
        {
            Backend = Name,
            ResponseCount = responses,
            ExpiredCount = expired,
            VaryIndexCount = indexes,
            RedirectCount = await Redirects.CountAsync(cancellationToken).ConfigureAwait(false),
            UnreadableCount = unreadable,
            BodyBytes = bodyBytes,
            // As the storage counts its bytes (what MaxBytes bounds: files count their headers); by default, the values' sizes.
            ResponseBytes = OverridesTotalBytes(Responses) ? await Responses.GetTotalBytesAsync(cancellationToken).ConfigureAwait(false) : responseBytes,
            RedirectBytes = await Redirects.GetTotalBytesAsync(cancellationToken).ConfigureAwait(false),
            OldestCreatedAt = oldest,
            NewestCreatedAt = newest,
        };
    }

    /// <summary>
    /// One pass over the store of responses: each value's metadata from its first bytes where it is there in clear,
    /// else from the whole value (read once more, or with the listing when encryption is on).
    /// </summary>
    private async IAsyncEnumerable<ScannedValue> ScanAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var headBytes = Serializer.Encrypts ? EncryptedInspectionHeadBytes : InspectionHeadBytes;
        await foreach (var listed in EntryInfosAsync(headBytes, cancellationToken).ConfigureAwait(false))
        {
            if (await WithHeadAsync(listed, headBytes, cancellationToken).ConfigureAwait(false) is not { } info)
            {
                continue; // deleted or expired since it was listed
            }

            var size = info.Size;
            var inspection = Serializer.Inspect(info.Head, size, info.Key);
            if (inspection.Status == InspectionStatus.NeedsWholeValue)
            {
                var bytes = await Responses.ReadAsync(info.Key, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    continue; // deleted or expired since it was listed
                }

                size = bytes.Length;
                inspection = Serializer.Inspect(bytes, size, info.Key);
            }

            yield return ToScanned(info, size, inspection);
        }
    }

    /// <summary>
    /// What <see cref="BaseCache.GetEntryInfosAsync"/> gives for the store of responses. A storage that does not override
    /// it reads whole values anyway: they are enumerated here with the whole value as the head, so that no metadata is
    /// read twice, and a value that vanished while listed (a <see langword="null"/> value) is skipped.
    /// </summary>
    private async IAsyncEnumerable<StoredEntryInfo> EntryInfosAsync(int headBytes, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (OverridesEntryInfos(Responses))
        {
            await foreach (var info in Responses.GetEntryInfosAsync(headBytes, cancellationToken).ConfigureAwait(false))
            {
                yield return info;
            }

            yield break;
        }

        await foreach (var entry in Responses.GetEntriesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (entry.Value is { } value)
            {
                yield return new StoredEntryInfo(entry.Key, value.Length) { Head = value };
            }
        }
    }

    private static bool OverridesEntryInfos(BaseCache store)
        => Overridden.GetOrAdd(
            (store.GetType(), nameof(BaseCache.GetEntryInfosAsync)),
            static pair => pair.Type.GetMethod(pair.Method, [typeof(int), typeof(CancellationToken)])?.DeclaringType != typeof(BaseCache));

    private static bool OverridesTotalBytes(BaseCache store)
        => Overridden.GetOrAdd(
            (store.GetType(), nameof(BaseCache.GetTotalBytesAsync)),
            static pair => pair.Type.GetMethod(pair.Method, [typeof(CancellationToken)])?.DeclaringType != typeof(BaseCache));

    /// <summary>
    /// The listed value with the head that was asked for: a storage that returned fewer bytes than asked (of a value
    /// that has them) has the value read whole instead, so that a short head is never taken for a corrupt entry.
    /// </summary>
    private async ValueTask<StoredEntryInfo?> WithHeadAsync(StoredEntryInfo info, int headBytes, CancellationToken cancellationToken)
    {
        if (info.Head.Length >= Math.Min(info.Size, headBytes))
        {
            return info;
        }

        var bytes = await Responses.ReadAsync(info.Key, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : info with { Size = bytes.Length, Head = bytes };
    }

    /// <summary>The metadata of a value for the expiry sweep, from its head or else the whole value; null when it is gone.</summary>
    /// <exception cref="CacheFormatException">The value cannot be read.</exception>
    private async ValueTask<StoredResponse?> ReadMetadataForSweepAsync(StoredEntryInfo info, CancellationToken cancellationToken)
    {
        var inspection = Serializer.Inspect(info.Head, info.Size, info.Key);
        if (inspection.Status == InspectionStatus.NeedsWholeValue)
        {
            var bytes = await Responses.ReadAsync(info.Key, cancellationToken).ConfigureAwait(false);
            return bytes is null ? null : Serializer.ReadMetadata(bytes, info.Key);
        }

        return inspection.Status switch
        {
            InspectionStatus.Response => inspection.Metadata,
            InspectionStatus.Unreadable => throw inspection.Error!,
            _ => null,
        };
    }

    private async ValueTask<StoredResponse?> TryReadMetadataForSweepAsync(StoredEntryInfo info, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadMetadataForSweepAsync(info, cancellationToken).ConfigureAwait(false);
        }
        catch (CacheFormatException)
        {
            return null;
        }
    }

    private static ScannedValue ToScanned(StoredEntryInfo info, long size, in Inspection inspection)
    {
        switch (inspection.Status)
        {
            case InspectionStatus.Response:
                try
                {
                    var entry = EntrySerializer.ToEntry(inspection.Metadata!, inspection.BodyLength, info.Key, size) with
                    {
                        LastUsedAt = info.LastUsedAt,
                        DeleteAfter = info.DeleteAfter,
                    };
                    return new ScannedValue(info.Key, size, entry, inspection.Metadata!.Aliases, null);
                }
                catch (CacheFormatException)
                {
                    return new ScannedValue(info.Key, size, null, null, null);
                }

            case InspectionStatus.VaryIndex:
                return new ScannedValue(info.Key, size, null, null, inspection.Index);
            default:
                return new ScannedValue(info.Key, size, null, null, null);
        }
    }

    /// <summary>Deletes keys, with the variants and aliases that depend on them, in batches; counts the keys that led to a stored value.</summary>
    private async ValueTask<int> DeleteKeysAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var found = 0;
        foreach (var batch in keys.Distinct(StringComparer.Ordinal).Chunk(DeleteBatchSize))
        {
            var (responseKeys, aliasKeys, present) = await CollectDependentsAsync(batch, cancellationToken).ConfigureAwait(false);
            found += present;
            await Responses.DeleteManyAsync(responseKeys, cancellationToken).ConfigureAwait(false);
            if (aliasKeys.Count > 0)
            {
                await Redirects.DeleteManyAsync(aliasKeys, cancellationToken).ConfigureAwait(false);
            }
        }

        return found;
    }

    /// <summary>
    /// What deleting keys takes: each key and its alias target, a Vary index's variants, and the redirect aliases of the
    /// responses (of every variant, for an index). Also counts the keys that lead to a stored value.
    /// </summary>
    private async ValueTask<(List<string> ResponseKeys, List<string> AliasKeys, int Present)> CollectDependentsAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var responseKeys = new List<string>();
        var aliasKeys = new List<string>();
        var present = 0;
        foreach (var key in keys)
        {
            responseKeys.Add(key);
            aliasKeys.Add(key);
            var target = await Redirects.ReadAsync(key, cancellationToken).ConfigureAwait(false);
            var targetKey = target is null ? key : Encoding.UTF8.GetString(target);
            if (target is not null)
            {
                responseKeys.Add(targetKey);
            }

            var bytes = await Responses.ReadAsync(targetKey, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                continue;
            }

            present++;
            foreach (var variant in VariantsOf(bytes, targetKey))
            {
                responseKeys.Add(variant);
                if (await Responses.ReadAsync(variant, cancellationToken).ConfigureAwait(false) is { } variantBytes)
                {
                    aliasKeys.AddRange(AliasesOf(variantBytes, variant));
                }
            }

            aliasKeys.AddRange(AliasesOf(bytes, targetKey));
        }

        return (responseKeys.Distinct(StringComparer.Ordinal).ToList(), aliasKeys.Distinct(StringComparer.Ordinal).ToList(), present);
    }

    private List<string> VariantsOf(byte[] bytes, string key)
    {
        try
        {
            return EntrySerializer.ReadKind(bytes) == EntryKind.VaryIndex ? Serializer.DeserializeVaryIndex(bytes, key).Variants : [];
        }
        catch (CacheFormatException)
        {
            return []; // undecodable: only the entry itself is deleted
        }
    }

    private List<string> AliasesOf(byte[] bytes, string key) => TryReadMetadata(bytes, key)?.Aliases ?? [];

    private static async ValueTask<int> DeleteInBatchesAsync(BaseCache store, IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var batch in keys.Chunk(DeleteBatchSize))
        {
            deleted += await store.DeleteManyAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    /// <summary>Moves a Vary index's delete-after time so that it outlives a variant given a new one.</summary>
    private async ValueTask ExtendVaryIndexAsync(string indexKey, DateTimeOffset? variantDeleteAfter, CancellationToken cancellationToken)
    {
        var bytes = await Responses.ReadAsync(indexKey, cancellationToken).ConfigureAwait(false);
        VaryIndex index;
        try
        {
            if (bytes is null || EntrySerializer.ReadKind(bytes) != EntryKind.VaryIndex)
            {
                return;
            }

            index = Serializer.DeserializeVaryIndex(bytes, indexKey);
        }
        catch (CacheFormatException)
        {
            return;
        }

        var deleteAfter = Later(index.DeleteAfter, variantDeleteAfter);
        if (deleteAfter != index.DeleteAfter)
        {
            index.DeleteAfter = deleteAfter;
            await Responses.WriteAsync(indexKey, Serializer.SerializeVaryIndex(index, indexKey), deleteAfter, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Uri ParseUrl(string url, string paramName)
    {
        if (string.IsNullOrEmpty(url))
        {
            throw new ArgumentException("A URL is null or empty.", paramName);
        }

        // On Unix "/path" parses as an absolute file:// URI: only HTTP URLs can have been cached.
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new ArgumentException($"'{url}' is not an absolute HTTP URL.", paramName);
    }

    /// <summary>One value of the store of responses as a scan saw it: a response entry, a Vary index, or neither (unreadable).</summary>
    private sealed record ScannedValue(string Key, long Size, CacheEntry? Entry, List<string>? Aliases, VaryIndex? Index);
}
