using CachedHttp.Policy;

namespace CachedHttp;

/// <summary>
/// Selects stored responses for <see cref="CacheBackend.GetEntriesAsync"/>, <see cref="CacheBackend.DeleteAsync(CacheEntryFilter, CancellationToken)"/>,
/// <see cref="CacheBackend.CountAsync(CacheEntryFilter, CancellationToken)"/> and <see cref="CacheBackend.ResetExpirationAsync"/>.
/// </summary>
/// <remarks>
/// <para>
/// An entry matches when it meets every criterion that is set; a filter with none set matches every response. The
/// cheap criteria are checked first and <see cref="Predicate"/> last.
/// </para>
/// <para>Immutable; the collections are copied when set. Invalid values throw when they are set, naming the property.</para>
/// </remarks>
public sealed record CacheEntryFilter
{
    private readonly TimeSpan? _olderThan;
    private readonly int[]? _statusCodes;
    private readonly string[]? _methods;

    /// <summary>Gets a filter that matches every stored response.</summary>
    public static CacheEntryFilter All { get; } = new();

    /// <summary>
    /// Gets whether to match only expired responses (<see langword="true"/>), only fresh ones (<see langword="false"/>),
    /// or both (<see langword="null"/>). Expired means the expiry time is at or before now (<see cref="CacheEntry.IsExpired"/>).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public bool? Expired { get; init; }

    /// <summary>Gets the age beyond which responses match: those stored strictly more than this long ago.</summary>
    /// <value>The default value is <see langword="null"/> (any age).</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan? OlderThan
    {
        get => _olderThan;
        init
        {
            if (value < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(OlderThan), value, "OlderThan must not be negative.");
            }

            _olderThan = value;
        }
    }

    /// <summary>Gets the instant before which responses must have been stored to match (exclusive).</summary>
    /// <value>The default value is <see langword="null"/> (any time).</value>
    public DateTimeOffset? CreatedBefore { get; init; }

    /// <summary>
    /// Gets a glob pattern the URL must match, with the rules of <see cref="CacheOptions.UrlsExpireAfter"/>: compared
    /// without the scheme, case-insensitively, as a prefix; <c>*</c> matches any run of characters and <c>?</c> one
    /// character. For example <c>example.com/api/*</c> or <c>*.example.com</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (any URL). An empty pattern matches every URL.</value>
    public string? UrlPattern { get; init; }

    /// <summary>Gets the status codes to match; any status when null or empty.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <exception cref="ArgumentOutOfRangeException">A code is outside 100–999.</exception>
    public IReadOnlyCollection<int>? StatusCodes
    {
        get => _statusCodes;
        init
        {
            foreach (var code in value ?? [])
            {
                if (code is < 100 or > 999)
                {
                    throw new ArgumentOutOfRangeException(nameof(StatusCodes), code, "A status code must be between 100 and 999.");
                }
            }

            _statusCodes = value?.ToArray();
        }
    }

    /// <summary>Gets the request methods to match (case-insensitive); any method when null or empty.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <exception cref="ArgumentException">A method is null or empty.</exception>
    public IReadOnlyCollection<string>? Methods
    {
        get => _methods;
        init
        {
            if (value is not null && value.Any(string.IsNullOrEmpty))
            {
                throw new ArgumentException("A method must not be null or empty.", nameof(Methods));
            }

            _methods = value?.ToArray();
        }
    }

    /// <summary>Gets a condition an entry must also meet, evaluated after the other criteria; any entry when null.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <remarks>Called once per candidate entry while the storage is enumerated; an exception it throws ends the operation.</remarks>
    public Func<CacheEntry, bool>? Predicate { get; init; }

    /// <summary>Tells whether <paramref name="entry"/> meets every criterion of this filter at <paramref name="now"/>.</summary>
    /// <param name="entry">The entry.</param>
    /// <param name="now">The current time, for <see cref="Expired"/> and <see cref="OlderThan"/>.</param>
    public bool Matches(CacheEntry entry, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Expired is { } expired && entry.IsExpired(now) != expired)
        {
            return false;
        }

        if (OlderThan is { } age && !(entry.CreatedAt < Subtract(now, age)))
        {
            return false;
        }

        if (CreatedBefore is { } before && entry.CreatedAt >= before)
        {
            return false;
        }

        if (_statusCodes is { Length: > 0 } codes && Array.IndexOf(codes, (int)entry.StatusCode) < 0)
        {
            return false;
        }

        if (_methods is { Length: > 0 } methods && !methods.Any(m => string.Equals(m, entry.Method, StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        if (UrlPattern is { } pattern && !UrlPatterns.IsMatch(pattern, UrlPatterns.WithoutScheme(entry.Url.AbsoluteUri)))
        {
            return false;
        }

        return Predicate is null || Predicate(entry);
    }

    private static DateTimeOffset Subtract(DateTimeOffset now, TimeSpan age)
        => now - DateTimeOffset.MinValue < age ? DateTimeOffset.MinValue : now - age;
}
