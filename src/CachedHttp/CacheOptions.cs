using Microsoft.Extensions.Logging;

namespace CachedHttp;

/// <summary>
/// Settings of a <see cref="CacheBackend"/>: what is cached, for how long, and how it is keyed.
/// </summary>
/// <remarks>
/// A backend validates its options once, when it is constructed (<see cref="Validate"/>), and an invalid value
/// throws an <see cref="ArgumentException"/> naming the option. Change options before the backend is built; a
/// backend reads them on every request, so later changes take effect but are not validated again.
/// </remarks>
public sealed class CacheOptions
{
    private Expiration _expireAfter = Expiration.Never;

    /// <summary>Gets or sets the session-wide expiration of stored responses.</summary>
    /// <value>The default value is <see cref="Expiration.Never"/>.</value>
    public Expiration ExpireAfter
    {
        get => _expireAfter;
        set
        {
            _expireAfter = value;
            ExpireAfterIsSet = true;
        }
    }

    /// <summary>Gets a value indicating whether <see cref="ExpireAfter"/> was set explicitly (it then outranks heuristic freshness).</summary>
    internal bool ExpireAfterIsSet { get; private set; }

    /// <summary>
    /// Gets or sets per-URL expirations: glob pattern → expiration, tried in order; the first match wins.
    /// </summary>
    /// <remarks>
    /// Patterns and URLs are compared without their scheme and a pattern matches as a prefix:
    /// <c>httpbin.org/delay</c> matches <c>https://httpbin.org/delay/1</c>, <c>*.site_1.com</c> matches
    /// <c>img.site_1.com</c>, and the empty pattern matches every URL. <c>*</c> matches any run of characters,
    /// <c>?</c> any one character.
    /// </remarks>
    /// <value>The default value is an empty ordered map.</value>
    public IDictionary<string, Expiration> UrlsExpireAfter { get; set; } = new OrderedDictionary<string, Expiration>(StringComparer.Ordinal);

    /// <summary>Gets or sets the response status codes that are stored (and served when read back).</summary>
    /// <value>The default value is <c>{ 200 }</c>.</value>
    public ISet<int> AllowedCodes { get; set; } = new HashSet<int> { 200 };

    /// <summary>Gets or sets the request methods whose responses are stored (and served when read back). Case-insensitive.</summary>
    /// <value>The default value is <c>{ GET, HEAD }</c>.</value>
    public ISet<string> AllowedMethods { get; set; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "GET", "HEAD" };

    /// <summary>Gets or sets a value indicating whether all request headers (including the client's default headers) are part of the cache key.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool IncludeHeaders { get; set; }

    /// <summary>Gets or sets the names of request headers that are part of the cache key, even when <see cref="IncludeHeaders"/> is off.</summary>
    /// <value>The default value is an empty list.</value>
    public IList<string> MatchHeaders { get; set; } = new List<string>();

    /// <summary>
    /// Gets or sets parameter names removed before keying: from the query string, form and JSON bodies, and request headers
    /// (for example <c>api_key</c>, so that a rotating key does not defeat the cache).
    /// </summary>
    /// <value>The default value is an empty set.</value>
    public ISet<string> IgnoredParameters { get; set; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Gets or sets a value indicating whether Cache-Control, Expires and the other HTTP caching headers are honoured.</summary>
    /// <remarks>
    /// When on, the cache follows RFC 9111 as a private cache (see docs/rfc9111-compliance.md). Response headers decide
    /// first, then request headers, then the per-request expiration, the URL pattern and the session default.
    /// <see cref="AllowedCodes"/> and <see cref="AllowedMethods"/> remain gates: a response is stored only if RFC 9111
    /// allows it and its status and method are allowed (a 404 with <c>max-age</c> is stored only if 404 is allowed).
    /// </remarks>
    /// <value>The default value is <see langword="false"/>: expiration comes only from these options and per-request settings.</value>
    public bool CacheControl { get; set; }

    /// <summary>
    /// Gets or sets a predicate on a response: <see langword="false"/> means it is not stored, and a stored response
    /// for which it returns <see langword="false"/> is deleted when read.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (every response passes).</value>
    public Func<CachedResponse, bool>? Filter { get; set; }

    /// <summary>Gets or sets an asynchronous predicate, applied like <see cref="Filter"/> (after it, when both are set).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<CachedResponse, CancellationToken, ValueTask<bool>>? AsyncFilter { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether disposing a <see cref="CachedSession"/> also disposes its backend.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the backend decides (false for memory and servers, true for SQLite and files).</value>
    public bool? AutoClose { get; set; }

    /// <summary>Gets or sets the largest response body that is stored, in bytes; a larger body streams through uncached.</summary>
    /// <value>The default value is 64 MiB.</value>
    public long MaxBodySize { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Gets or sets the body size above which a response is streamed to and from a storage that supports it
    /// (<see cref="BaseCache.SupportsStreaming"/>: files, SQLite, GridFS) instead of being held whole in memory: stored
    /// as the caller reads it, and served from storage as the caller reads it.
    /// </summary>
    /// <remarks>
    /// A body of unknown length is held in memory up to this size, then streamed. Bodies are not streamed, whatever
    /// their size, when entries are encrypted or the body is to be compressed (both need the whole body), when the response
    /// has a <c>Vary</c> header, or when the storage cannot stream; <see cref="MaxBodySize"/> still bounds what is stored.
    /// A streamed entry's <see cref="CachedResponse.Body"/> is empty; its body is read from storage by the message that
    /// <see cref="CachedResponse.ToHttpResponseMessage"/> builds.
    /// </remarks>
    /// <value>The default value is 4 MiB.</value>
    public int StreamingThreshold { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Gets or sets the most responses the storage keeps; beyond it, the least recently used are evicted in the
    /// background. Enforced by the memory, file and SQLite storages; the server backends reject it (they have their
    /// own eviction: Redis <c>maxmemory-policy</c>, TTL on MongoDB and DynamoDB).
    /// </summary>
    /// <value>The default value is <see langword="null"/> (no bound).</value>
    /// <remarks>
    /// Each of the backend's two stores (responses, redirect aliases) is bounded by it; a response with <c>Vary</c>
    /// counts its index and each variant. Eviction never runs on the request path: a write over the bound schedules a
    /// trim, so the store may hold a little more for a moment, and a trim goes 1/64 below the bound. Evictions are
    /// counted in <c>cachedhttp.evictions</c> with reason <c>size</c>.
    /// </remarks>
    public long? MaxEntries { get; set; }

    /// <summary>
    /// Gets or sets the most bytes of stored entries (serialized: metadata and body) the storage keeps; beyond it, the
    /// least recently used entries are evicted in the background. Same storages as <see cref="MaxEntries"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (no bound).</value>
    /// <remarks>
    /// Bounds each store as <see cref="MaxEntries"/> does. The file storage counts its files on disk (values and their
    /// small headers).
    /// </remarks>
    public long? MaxBytes { get; set; }

    /// <summary>
    /// Gets or sets the largest serialized entry (metadata and body, after compression) that is stored; a larger one
    /// is served but not stored. Enforced by every backend.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: only <see cref="MaxBodySize"/> applies.</value>
    /// <remarks>
    /// A response that is not stored for this reason is logged at Debug (event 30) and counted in
    /// <c>cachedhttp.evictions</c> with reason <c>too-large</c>; the entry stored under its key before, which it
    /// supersedes, is deleted.
    /// </remarks>
    public long? MaxEntryBytes { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether responses are shared between requests with different credentials
    /// (<c>Authorization</c>, <c>Proxy-Authorization</c>, <c>Cookie</c>). When off, credentials are part of the key.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: one credential's response is never served to another.</value>
    public bool ShareAcrossCredentials { get; set; }

    /// <summary>Gets or sets a value indicating whether identical concurrent requests share one origin request.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool CoalesceRequests { get; set; } = true;

    /// <summary>
    /// Gets or sets how long after expiry a stale response may be served when the origin fails or answers 5xx
    /// (RFC 5861 <c>stale-if-error</c>; a response's own directive takes precedence in <see cref="CacheControl"/> mode).
    /// </summary>
    /// <value>The default value is <see langword="null"/> (never).</value>
    public TimeSpan? StaleIfError { get; set; }

    /// <summary>
    /// Gets or sets how long after expiry a stale response is served at once while it is revalidated in the background
    /// (RFC 5861 <c>stale-while-revalidate</c>; a response's own directive takes precedence in <see cref="CacheControl"/> mode).
    /// </summary>
    /// <value>The default value is <see langword="null"/> (never).</value>
    public TimeSpan? StaleWhileRevalidate { get; set; }

    /// <summary>
    /// Gets or sets how long an expired response that has a validator (ETag or Last-Modified) is kept so that it can be
    /// revalidated with a conditional request instead of fetched again. Storage with native expiry deletes it after that.
    /// </summary>
    /// <value>The default value is 7 days.</value>
    public TimeSpan StaleRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Gets or sets a value indicating whether, in <see cref="CacheControl"/> mode, a response without explicit freshness gets a
    /// heuristic lifetime from its Last-Modified (RFC 9111 §4.2.2): <see cref="HeuristicFraction"/> of the time since it was
    /// modified, at most <see cref="HeuristicMaxAge"/>, for heuristically cacheable statuses (or <c>public</c> responses) only,
    /// and only when no expiration was set by the request, a URL pattern or <see cref="ExpireAfter"/>.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool HeuristicFreshness { get; set; } = true;

    /// <summary>Gets or sets the fraction of the time since Last-Modified used as heuristic lifetime.</summary>
    /// <value>The default value is 0.1 (10%).</value>
    public double HeuristicFraction { get; set; } = 0.1;

    /// <summary>Gets or sets the cap of a heuristic lifetime.</summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan HeuristicMaxAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Gets or sets the clock. Tests pass a fake one.</summary>
    /// <value>The default value is <see cref="System.TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger factory used by the backend and the handlers.</summary>
    /// <value>The default value is <see langword="null"/> (no logging).</value>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Gets or sets which validators are sent when a stored response is revalidated with a conditional request
    /// (RFC 9111 §4.3.1): <c>If-None-Match</c> from its <c>ETag</c>, <c>If-Modified-Since</c> from its <c>Last-Modified</c>, or both.
    /// </summary>
    /// <remarks>
    /// <see cref="ValidatorPreference.Both"/> is what RFC 9111 asks for; the others fall back to the other validator when
    /// the preferred one is missing, so a stale response with any validator is still revalidated rather than fetched again.
    /// </remarks>
    /// <value>The default value is <see cref="ValidatorPreference.Both"/>.</value>
    public ValidatorPreference Validators { get; set; } = ValidatorPreference.Both;

    /// <summary>
    /// Gets or sets how entries are written to storage: compression, signing and encryption (see <see cref="CacheSerializerOptions"/>).
    /// </summary>
    /// <value>The default value is a <see cref="CacheSerializerOptions"/> with no compression, no signing and no encryption.</value>
    public CacheSerializerOptions Serializer { get; set; } = new();

    /// <summary>
    /// Gets or sets the names (case-insensitive) of secret parameters: their values are never written to storage in clear.
    /// </summary>
    /// <remarks>
    /// <para>
    /// In the stored URL of a response and of its redirect hops, the value of a query (or fragment) parameter with one of
    /// these names is replaced by <c>REDACTED</c> (user info in a URL is redacted too); a request header with one of these
    /// names is stored as <c>REDACTED</c>, like <c>Authorization</c>, <c>Proxy-Authorization</c> and <c>Cookie</c>. In cache
    /// keys their values (query, form and top-level JSON body fields, headers) are replaced by a keyed hash (see
    /// <see cref="CredentialKey"/>). A request header with one of these names is a credential: unless
    /// <see cref="ShareAcrossCredentials"/> is set, it is part of the key.
    /// </para>
    /// <para>
    /// A hit is served around the caller's own request, so the caller still sees its own URL; <see cref="CacheBackend.GetUrlsAsync"/>
    /// lists the redacted URLs. Names in <see cref="IgnoredParameters"/> are removed before keying and stay so.
    /// </para>
    /// </remarks>
    /// <value>
    /// The default value is <c>{ api_key, apikey, api-key, x-api-key, key, access_token, refresh_token, id_token, token,
    /// auth, password, passwd, secret, client_secret, signature, sig, X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token }</c>.
    /// </value>
    public ISet<string> SecretParameters { get; set; } = new HashSet<string>(DefaultSecretParameters, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the key of the HMAC-SHA256 with which credentials and secret parameters enter cache keys and stored
    /// <c>Vary</c> values, so that stored keys reveal nothing that could be guessed offline (a password, for example).
    /// </summary>
    /// <remarks>
    /// When <see langword="null"/>, it is derived from the first of <see cref="CacheSerializerOptions.SigningKeys"/>, else of
    /// <see cref="CacheSerializerOptions.EncryptionKeys"/>, else it is a fixed constant of this library. With the constant,
    /// two credentials still never share an entry, but whoever reads the storage and knows the constant can test guesses
    /// against keys. A derived key changes when the first signing (or encryption) key changes, which turns every entry of a
    /// request with credentials into a miss: set this option explicitly to keep keys across rotations. At least 16 bytes.
    /// </remarks>
    /// <value>The default value is <see langword="null"/> (derived, see remarks).</value>
    public byte[]? CredentialKey { get; set; }

    /// <summary>
    /// Gets or sets how long one storage operation of a request (a lookup, a save, an invalidation) may take before it is
    /// abandoned: the request then goes to the network, as when the storage fails. <see langword="null"/> or
    /// <see cref="Timeout.InfiniteTimeSpan"/> means no limit.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The operation's cancellation token is cancelled at the timeout, and a storage that ignores it is no longer waited
    /// for. A timeout counts as a failure for the <see cref="CircuitBreaker"/>. The caller's own cancellation stays a
    /// cancellation: it is neither a timeout nor a storage failure.
    /// </para>
    /// <para>
    /// This bounds a whole cache operation, which may be several storage calls (a lookup reads a redirect alias and a
    /// Vary variant too); the timeouts of the Redis, MongoDB and DynamoDB storages bound each single call. A backend reads
    /// this value once, when it is constructed.
    /// </para>
    /// </remarks>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan? StorageTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the circuit breaker that stops calling a failing storage for a while (see <see cref="CircuitBreakerOptions"/>).
    /// </summary>
    /// <value>The default value is a <see cref="CircuitBreakerOptions"/> that is enabled, opens after 5 consecutive failures and breaks for 30 seconds.</value>
    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();

    /// <summary>Gets the default of <see cref="SecretParameters"/>.</summary>
    public static IReadOnlyList<string> DefaultSecretParameters { get; } =
    [
        "api_key", "apikey", "api-key", "x-api-key", "key", "access_token", "refresh_token", "id_token", "token", "auth",
        "password", "passwd", "secret", "client_secret", "signature", "sig", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
    ];

    /// <summary>Checks every option and throws on the first invalid one.</summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        Require(ExpireAfter is not null, nameof(ExpireAfter), "must not be null; use Expiration.Never");
        Require(UrlsExpireAfter is not null, nameof(UrlsExpireAfter), "must not be null");
        foreach (var pair in UrlsExpireAfter!)
        {
            Require(pair.Key is not null, nameof(UrlsExpireAfter), "has a null pattern");
            Require(pair.Value is not null, nameof(UrlsExpireAfter), $"has a null expiration for pattern '{pair.Key}'");
        }

        Require(AllowedCodes is not null, nameof(AllowedCodes), "must not be null");
        foreach (var code in AllowedCodes!)
        {
            Require(code is >= 100 and <= 999, nameof(AllowedCodes), $"contains {code}, which is not an HTTP status code (100-999)");
        }

        Require(AllowedMethods is not null, nameof(AllowedMethods), "must not be null");
        foreach (var method in AllowedMethods!)
        {
            Require(!string.IsNullOrWhiteSpace(method) && method.All(IsTokenChar), nameof(AllowedMethods), $"contains '{method}', which is not an HTTP method");
        }

        Require(MatchHeaders is not null, nameof(MatchHeaders), "must not be null");
        foreach (var header in MatchHeaders!)
        {
            Require(!string.IsNullOrWhiteSpace(header) && header.All(IsTokenChar), nameof(MatchHeaders), $"contains '{header}', which is not a header name");
        }

        Require(IgnoredParameters is not null, nameof(IgnoredParameters), "must not be null");
        foreach (var name in IgnoredParameters!)
        {
            Require(!string.IsNullOrEmpty(name), nameof(IgnoredParameters), "contains an empty name");
        }

        Require(MaxBodySize >= 0, nameof(MaxBodySize), $"must be zero or positive, not {MaxBodySize}");
        Require(StreamingThreshold >= 0, nameof(StreamingThreshold), $"must be zero or positive, not {StreamingThreshold}");
        Require(MaxEntries is null or > 0, nameof(MaxEntries), $"must be positive or null, not {MaxEntries}");
        Require(MaxBytes is null or > 0, nameof(MaxBytes), $"must be positive or null, not {MaxBytes}");
        Require(MaxEntryBytes is null or > 0, nameof(MaxEntryBytes), $"must be positive or null, not {MaxEntryBytes}");
        Require(MaxEntryBytes is null || MaxBytes is null || MaxEntryBytes <= MaxBytes, nameof(MaxEntryBytes), $"is {MaxEntryBytes}, more than MaxBytes ({MaxBytes})");
        Require(StaleIfError is null || StaleIfError >= TimeSpan.Zero, nameof(StaleIfError), "must not be negative");
        Require(StaleWhileRevalidate is null || StaleWhileRevalidate >= TimeSpan.Zero, nameof(StaleWhileRevalidate), "must not be negative");
        Require(StaleRetention >= TimeSpan.Zero, nameof(StaleRetention), "must not be negative");
        Require(HeuristicFraction is >= 0 and <= 1, nameof(HeuristicFraction), "must be between 0 and 1");
        Require(HeuristicMaxAge >= TimeSpan.Zero, nameof(HeuristicMaxAge), "must not be negative");
        Require(TimeProvider is not null, nameof(TimeProvider), "must not be null");
        Require(Enum.IsDefined(Validators), nameof(Validators), $"is {(int)Validators}, which is not a ValidatorPreference");
        Require(Serializer is not null, nameof(Serializer), "must not be null");
        Serializer!.Validate(nameof(Serializer));
        Require(SecretParameters is not null, nameof(SecretParameters), "must not be null; use an empty set");
        Require(SecretParameters!.All(n => !string.IsNullOrEmpty(n)), nameof(SecretParameters), "contains an empty name");
        Require(CredentialKey is null || CredentialKey.Length >= 16, nameof(CredentialKey), $"has {CredentialKey?.Length} bytes; it needs at least 16 (32 random bytes recommended)");
        Require(
            StorageTimeout is null || StorageTimeout == Timeout.InfiniteTimeSpan || (StorageTimeout > TimeSpan.Zero && StorageTimeout.Value.TotalMilliseconds <= MaxTimerMilliseconds),
            nameof(StorageTimeout),
            $"must be positive (at most {MaxTimerMilliseconds} ms), Timeout.InfiniteTimeSpan or null, not {StorageTimeout}");
        Require(CircuitBreaker is not null, nameof(CircuitBreaker), "must not be null; set CircuitBreaker.Enabled to false to turn it off");
        CircuitBreaker!.Validate(nameof(CircuitBreaker));
    }

    /// <summary>Copies these options (collections are copied too).</summary>
    public CacheOptions Clone()
    {
        var copy = new CacheOptions
        {
            UrlsExpireAfter = new OrderedDictionary<string, Expiration>(UrlsExpireAfter, StringComparer.Ordinal),
            AllowedCodes = new HashSet<int>(AllowedCodes),
            AllowedMethods = new HashSet<string>(AllowedMethods, StringComparer.OrdinalIgnoreCase),
            IncludeHeaders = IncludeHeaders,
            MatchHeaders = new List<string>(MatchHeaders),
            IgnoredParameters = new HashSet<string>(IgnoredParameters, StringComparer.Ordinal),
            CacheControl = CacheControl,
            Filter = Filter,
            AsyncFilter = AsyncFilter,
            AutoClose = AutoClose,
            MaxBodySize = MaxBodySize,
            StreamingThreshold = StreamingThreshold,
            MaxEntries = MaxEntries,
            MaxBytes = MaxBytes,
            MaxEntryBytes = MaxEntryBytes,
            CoalesceRequests = CoalesceRequests,
            ShareAcrossCredentials = ShareAcrossCredentials,
            TimeProvider = TimeProvider,
            LoggerFactory = LoggerFactory,
            StaleIfError = StaleIfError,
            StaleWhileRevalidate = StaleWhileRevalidate,
            StaleRetention = StaleRetention,
            HeuristicFreshness = HeuristicFreshness,
            HeuristicFraction = HeuristicFraction,
            HeuristicMaxAge = HeuristicMaxAge,
            Validators = Validators,
            Serializer = Serializer.Clone(),
            SecretParameters = new HashSet<string>(SecretParameters, StringComparer.OrdinalIgnoreCase),
            CredentialKey = CredentialKey is null ? null : (byte[])CredentialKey.Clone(),
            StorageTimeout = StorageTimeout,
            CircuitBreaker = CircuitBreaker.Clone(),
        };
        copy._expireAfter = _expireAfter;
        copy.ExpireAfterIsSet = ExpireAfterIsSet;
        return copy;
    }

    /// <summary>The longest delay a timer takes (about 49.7 days).</summary>
    private const double MaxTimerMilliseconds = uint.MaxValue - 1;

    internal static bool IsTokenChar(char c)
        => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"CacheOptions.{option} {problem}.", option);
        }
    }
}
