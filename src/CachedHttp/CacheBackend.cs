using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CachedHttp;

/// <summary>
/// The caching rules that need storage: reading and saving responses with their redirect aliases and Vary
/// variants, deleting, expiring and inspecting them. Holds two stores, <see cref="Responses"/> and
/// <see cref="Redirects"/>; in memory unless a subclass or the caller provides others.
/// </summary>
/// <remarks>
/// <para>Thread-safe; meant to be a singleton shared by every session and handler that uses the same cache.</para>
/// <para>
/// The backend owns its two stores and disposes them. A <see cref="CachedSession"/> disposes its backend only
/// when <see cref="AutoClose"/> is on.
/// </para>
/// </remarks>
public partial class CacheBackend : IDisposable, IAsyncDisposable
{
    private const int MaxVariants = 32;
    private readonly CacheKeys.KeyMemo _keyMemo = new();
    private int _disposed;

    /// <summary>Initializes an in-memory backend.</summary>
    /// <param name="options">The options; defaults when null. They are validated now.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public CacheBackend(CacheOptions? options = null)
        : this(Validated(options), static (o, _) => new InMemoryCache(o.TimeProvider))
    {
    }

    /// <summary>Initializes a backend over the given stores.</summary>
    /// <param name="responses">The store of responses.</param>
    /// <param name="redirects">The store of redirect aliases (may be the same instance as <paramref name="responses"/> only if keys cannot collide; use two stores).</param>
    /// <param name="options">The options; defaults when null. They are validated now.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public CacheBackend(BaseCache responses, BaseCache redirects, CacheOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(responses);
        ArgumentNullException.ThrowIfNull(redirects);
        Options = Validated(options);
        Responses = responses;
        Redirects = redirects;
        Logger = (Options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("CachedHttp");
        Serializer = new EntrySerializer(Options);
        InitializeFaultHandling();
        ApplySizeLimits();
    }

    /// <summary>Initializes a backend whose stores are created from its validated options.</summary>
    /// <param name="options">The validated options.</param>
    /// <param name="createStore">Creates one store from the validated options and its name, <c>responses</c> or <c>redirects</c>.</param>
    protected CacheBackend(CacheOptions? options, Func<CacheOptions, string, BaseCache> createStore)
    {
        ArgumentNullException.ThrowIfNull(createStore);
        Options = Validated(options);
        Responses = createStore(Options, "responses");
        Redirects = createStore(Options, "redirects");
        Logger = (Options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("CachedHttp");
        Serializer = new EntrySerializer(Options);
        InitializeFaultHandling();
        ApplySizeLimits();
    }

    /// <summary>Gets the options.</summary>
    public CacheOptions Options { get; }

    /// <summary>Gets the store of responses.</summary>
    public BaseCache Responses { get; }

    /// <summary>Gets the store of redirect aliases: the key of each redirect hop → the key of the final response.</summary>
    public BaseCache Redirects { get; }

    /// <summary>Gets the name of the storage engine, for logs and metrics.</summary>
    public virtual string Name => Responses.Name;

    /// <summary>Gets a value indicating whether disposing a <see cref="CachedSession"/> disposes this backend.</summary>
    public bool AutoClose => Options.AutoClose ?? AutoCloseByDefault;

    /// <summary>Gets the <see cref="AutoClose"/> value used when <see cref="CacheOptions.AutoClose"/> is null.</summary>
    protected virtual bool AutoCloseByDefault => false;

    internal ILogger Logger { get; }

    /// <summary>The stored format with this backend's compression, signing and encryption (read from the options once, at construction).</summary>
    internal EntrySerializer Serializer { get; }

    /// <summary>Origin requests in flight, by key, shared by every handler of this backend (request coalescing).</summary>
    internal System.Collections.Concurrent.ConcurrentDictionary<string, InFlight> InFlight { get; } = new(StringComparer.Ordinal);

    internal DateTimeOffset Now => Options.TimeProvider.GetUtcNow();

    /// <summary>Creates the cache key of a request with this backend's options (see <see cref="CacheKeys"/>).</summary>
    /// <exception cref="ArgumentException">The request has no absolute URI.</exception>
    public string CreateKey(HttpRequestMessage request) => _keyMemo.CreateKey(request, Options);

    /// <summary>Gets a stored response by key, following redirect aliases.</summary>
    /// <returns>
    /// The response, or <see langword="null"/> when it is missing, undecodable, no longer allowed by the options, or
    /// expired. An expired response without a validator is deleted; one with a validator is kept for revalidation.
    /// A response stored with Vary variants cannot be chosen without a request and gives <see langword="null"/>.
    /// </returns>
    public async ValueTask<CachedResponse?> GetResponseAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var (response, storedKey) = await LookupAsync(key, request: null, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            return null;
        }

        if (response.IsExpired(Now))
        {
            if (!response.HasValidators)
            {
                await DeleteAsync(storedKey!, cancellationToken).ConfigureAwait(false);
            }

            return null;
        }

        return response;
    }

    /// <summary>Saves a response under a key (its own method and URL's key when null), with aliases for its redirect hops.</summary>
    /// <param name="response">The response. Its <see cref="CachedResponse.ExpiresAt"/> decides when it expires.</param>
    /// <param name="key">The key; when null, the key of the response's method and URL.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The key the response was saved under.</returns>
    public async ValueTask<string> SaveResponseAsync(CachedResponse response, string? key = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        key ??= KeyForUrl(response.Url, response.Method);
        var deleteAfter = response.ExpiresAt is { } expires
            ? expires + (response.HasValidators ? Max(Options.StaleRetention, StaleWindow) : StaleWindow)
            : (DateTimeOffset?)null;
        await SaveAsync(key, response, deleteAfter, cancellationToken).ConfigureAwait(false);
        return key;
    }

    /// <summary>Reads a live response (its body whole) and saves it.</summary>
    /// <param name="response">The response; its content is buffered and stays readable.</param>
    /// <param name="key">The key; when null, the key of the response's request.</param>
    /// <param name="expireAfter">The expiration; the options' session default when null.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The stored response.</returns>
    public async Task<CachedResponse> SaveResponseAsync(HttpResponseMessage response, string? key = null, Expiration? expireAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        var request = response.RequestMessage ?? throw new ArgumentException("The response has no RequestMessage to take the method and URL from.", nameof(response));
        var now = Now;
        var body = response.Content is null ? [] : await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var cached = ResponseFactory.Create(response, request, body, now, now, [], Options) with
        {
            ExpiresAt = (expireAfter ?? Options.ExpireAfter).GetExpiresAt(now),
        };
        await SaveResponseAsync(cached, key ?? CreateKey(request), cancellationToken).ConfigureAwait(false);
        return cached;
    }

    /// <summary>Deletes a response, its Vary variants and its redirect aliases.</summary>
    /// <returns><see langword="true"/> if something was deleted.</returns>
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        return await DeleteManyAsync([key], cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <summary>Deletes responses by key, with their variants and aliases, in batches.</summary>
    /// <returns>The number of stored values deleted.</returns>
    public async ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var deleted = 0;
        foreach (var batch in keys.Chunk(DeleteBatchSize))
        {
            var (responseKeys, aliasKeys, _) = await CollectDependentsAsync(batch, cancellationToken).ConfigureAwait(false);
            deleted += await Responses.DeleteManyAsync(responseKeys, cancellationToken).ConfigureAwait(false);
            deleted += await Redirects.DeleteManyAsync(aliasKeys, cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    /// <summary>Deletes the stored response of a URL (as <see cref="CreateKey"/> keys a body-less request with no extra headers).</summary>
    /// <param name="url">The absolute URL.</param>
    /// <param name="method">The method; GET when null.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    public ValueTask<bool> DeleteUrlAsync(string url, HttpMethod? method = null, CancellationToken cancellationToken = default)
        => DeleteAsync(KeyForUrl(ParseUrl(url), (method ?? HttpMethod.Get).Method), cancellationToken);

    /// <summary>Tells whether a response is stored for a URL (keyed as <see cref="DeleteUrlAsync"/> keys it).</summary>
    public async ValueTask<bool> HasUrlAsync(string url, HttpMethod? method = null, CancellationToken cancellationToken = default)
    {
        var key = KeyForUrl(ParseUrl(url), (method ?? HttpMethod.Get).Method);
        if (await Responses.ContainsAsync(key, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        return await Redirects.ReadAsync(key, cancellationToken).ConfigureAwait(false) is { } target
            && await Responses.ContainsAsync(Encoding.UTF8.GetString(target), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lists the URLs of stored responses (each once), reading only entry metadata.</summary>
    /// <remarks>
    /// URLs are listed as stored: the values of <see cref="CacheOptions.SecretParameters"/> are <c>REDACTED</c>. With
    /// encryption on, each entry is decrypted (metadata and body are encrypted together).
    /// </remarks>
    /// <param name="includeExpired">Whether to list URLs whose response has expired.</param>
    /// <param name="cancellationToken">A token to cancel the enumeration.</param>
    public async IAsyncEnumerable<string> GetUrlsAsync(bool includeExpired = true, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var entry in GetEntriesAsync(includeExpired ? null : FreshOnly, cancellationToken).ConfigureAwait(false))
        {
            var url = entry.Url.OriginalString;
            if (seen.Add(url))
            {
                yield return url;
            }
        }
    }

    /// <summary>Enumerates stored responses (bodies included).</summary>
    /// <param name="includeExpired">Whether to include expired responses.</param>
    /// <param name="cancellationToken">A token to cancel the enumeration.</param>
    public async IAsyncEnumerable<CachedResponse> GetResponsesAsync(bool includeExpired = true, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var now = Now;
        await foreach (var entry in Responses.GetEntriesAsync(cancellationToken).ConfigureAwait(false))
        {
            CachedResponse response;
            try
            {
                if (EntrySerializer.ReadKind(entry.Value) != EntryKind.Response)
                {
                    continue;
                }

                response = Serializer.Deserialize(entry.Value, entry.Key);
            }
            catch (CacheFormatException)
            {
                continue;
            }

            if (includeExpired || !response.IsExpired(now))
            {
                yield return response;
            }
        }
    }

    /// <summary>Deletes every expired response (with its aliases), reading only the front of each value where the storage allows, and sweeps storage of values past their delete-after time.</summary>
    /// <returns>
    /// The number of responses deleted. Entries that a storage with native expiry (Redis, MongoDB, DynamoDB) already
    /// removed on its own are not counted.
    /// </returns>
    public async ValueTask<int> DeleteExpiredResponsesAsync(CancellationToken cancellationToken = default)
    {
        var now = Now;
        var expired = new List<string>();
        var aliases = new List<string>();
        await foreach (var listed in EntryInfosAsync(InspectionHeadBytes, cancellationToken).ConfigureAwait(false))
        {
            if (await WithHeadAsync(listed, InspectionHeadBytes, cancellationToken).ConfigureAwait(false) is not { } info)
            {
                continue;
            }

            EntrySerializer.ClearHeader header;
            StoredResponse? metadata = null;
            try
            {
                header = EntrySerializer.ReadClearHeader(info.Head.Span);
                if (Serializer.LacksRequiredProtection(header))
                {
                    expired.Add(info.Key); // never servable with these options (written before signing or encryption was on)
                    continue;
                }

                if (header.Kind == EntryKind.VaryIndex)
                {
                    continue;
                }

                // Version 2 keeps the expiry time in clear: a sweep needs no key, and one with the wrong keys deletes only what has expired.
                if (!header.HasExpiry)
                {
                    metadata = await ReadMetadataForSweepAsync(info, cancellationToken).ConfigureAwait(false);
                    if (metadata is null)
                    {
                        continue;
                    }
                }
            }
            catch (CacheFormatException ex)
            {
                if (ex.IsUnreadable)
                {
                    expired.Add(info.Key); // undecodable, or never servable with these options: remove it too
                }

                continue;
            }

            var expiresAt = header.HasExpiry ? header.ExpiresAt : metadata!.ExpiresAt;
            if (expiresAt is { } expires && expires <= now)
            {
                expired.Add(info.Key);
                aliases.AddRange((metadata ?? await TryReadMetadataForSweepAsync(info, cancellationToken).ConfigureAwait(false))?.Aliases ?? []);
            }
        }

        var deleted = 0;
        foreach (var batch in expired.Chunk(500))
        {
            deleted += await Responses.DeleteManyAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        foreach (var batch in aliases.Chunk(500))
        {
            await Redirects.DeleteManyAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        deleted += await Responses.DeleteExpiredAsync(cancellationToken).ConfigureAwait(false);
        await Redirects.DeleteExpiredAsync(cancellationToken).ConfigureAwait(false);
        CacheMetrics.Evicted(Name, "expired", deleted);
        return deleted;
    }

    /// <summary>Deletes every stored response and alias.</summary>
    public async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        await Responses.ClearAsync(cancellationToken).ConfigureAwait(false);
        await Redirects.ClearAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counts the stored responses (Vary indexes excluded when the storage can tell cheaply: it counts stored values).</summary>
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => Responses.CountAsync(cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            ReleaseCircuit();
            Dispose(disposing: true);
            GC.SuppressFinalize(this);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            ReleaseCircuit();
            await DisposeAsyncCore().ConfigureAwait(false);
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Disposes the stores.</summary>
    /// <param name="disposing"><see langword="true"/> when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Responses.Dispose();
            if (!ReferenceEquals(Redirects, Responses))
            {
                Redirects.Dispose();
            }
        }
    }

    /// <summary>Disposes the stores asynchronously.</summary>
    protected virtual async ValueTask DisposeAsyncCore()
    {
        await Responses.DisposeAsync().ConfigureAwait(false);
        if (!ReferenceEquals(Redirects, Responses))
        {
            await Redirects.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Hands <see cref="CacheOptions.MaxEntries"/> and <see cref="CacheOptions.MaxBytes"/> to both stores (aliases are bounded by the same values).</summary>
    private void ApplySizeLimits()
    {
        if (Options.MaxEntries is null && Options.MaxBytes is null)
        {
            return;
        }

        foreach (var store in new[] { Responses, Redirects })
        {
            if (!store.SupportsSizeLimits)
            {
                var option = Options.MaxEntries is null ? nameof(CacheOptions.MaxBytes) : nameof(CacheOptions.MaxEntries);
                Responses.Dispose();
                Redirects.Dispose();
                throw new ArgumentException(
                    $"CacheOptions.{option} is not supported by the {store.Name} storage, which has its own eviction (see the backends documentation); use MaxEntryBytes and expiration instead.",
                    option);
            }

            store.SetSizeLimits(new StorageSizeLimits { MaxEntries = Options.MaxEntries, MaxBytes = Options.MaxBytes });
        }
    }

    private TimeSpan StaleWindow => Max(Options.StaleIfError ?? TimeSpan.Zero, Options.StaleWhileRevalidate ?? TimeSpan.Zero);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static CacheOptions Validated(CacheOptions? options)
    {
        options ??= new CacheOptions();
        options.Validate();
        return options;
    }

    private static Uri ParseUrl(string url)
    {
        ArgumentException.ThrowIfNullOrEmpty(url);
        // On Unix "/path" parses as an absolute file:// URI: only HTTP URLs can have been cached.
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new ArgumentException($"'{url}' is not an absolute HTTP URL.", nameof(url));
    }

    internal string KeyForUrl(Uri url, string method)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        return CreateKey(request);
    }

    private StoredResponse? TryReadMetadata(byte[] bytes, string key)
    {
        try
        {
            return EntrySerializer.ReadKind(bytes) == EntryKind.Response ? Serializer.ReadMetadata(bytes, key) : null;
        }
        catch (CacheFormatException)
        {
            return null;
        }
    }

    /// <summary>The key of one Vary variant: the URL's key plus the normalized values of the named request headers (§4.1).</summary>
    internal static string VariantKey(string key, CachedHeaders varyValues)
    {
        var builder = new StringBuilder(key);
        foreach (var field in varyValues)
        {
            builder.Append('\n').Append(field.Key.ToLowerInvariant()).Append(':').Append(string.Join(",", field.Value));
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString())));
    }
}
