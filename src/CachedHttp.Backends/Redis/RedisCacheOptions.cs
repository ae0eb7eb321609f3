namespace CachedHttp.Redis;

/// <summary>
/// Settings of the Redis storage: where its keys live and how long a Redis operation may take.
/// </summary>
/// <remarks>
/// The options are validated, and their values copied, when a <see cref="RedisCache"/> or a <see cref="RedisBackend"/>
/// is constructed (<see cref="Validate"/>): an invalid value throws an <see cref="ArgumentException"/> naming the
/// option, at startup rather than at the first request. Later changes do not affect a storage already built.
/// </remarks>
public sealed class RedisCacheOptions
{
    /// <summary>The default <see cref="KeyPrefix"/>: the cache name of the original aiohttp-client-cache.</summary>
    public const string DefaultKeyPrefix = "aiohttp-cache";

    /// <summary>
    /// Gets or sets the first part of every Redis key: an entry is stored under <c>{KeyPrefix}:{store}:{key}</c>,
    /// where the store is <c>responses</c> or <c>redirects</c>. Caches with different prefixes are independent, and
    /// clearing one leaves the others.
    /// </summary>
    /// <remarks>
    /// Keys carry no hash tag, so in Redis Cluster a cache spreads over every node. A prefix that contains a hash tag
    /// (for example <c>{cache}</c>) would put the whole cache in one slot, hence on one node.
    /// </remarks>
    /// <value>The default value is <c>aiohttp-cache</c>.</value>
    public string KeyPrefix { get; set; } = DefaultKeyPrefix;

    /// <summary>Gets or sets the Redis database number; -1 for the connection's default database.</summary>
    /// <remarks>Redis Cluster only has database 0.</remarks>
    /// <value>The default value is -1.</value>
    public int Database { get; set; } = -1;

    /// <summary>
    /// Gets or sets how long a connection created from a configuration string waits for the server when it connects
    /// (StackExchange.Redis <c>connectTimeout</c>). Not used for a connection passed in by the caller.
    /// </summary>
    /// <remarks>
    /// Creating the backend never fails because the server is down: the connection keeps retrying in the background.
    /// But the constructor waits for the first attempt, so it can block for up to about this long.
    /// </remarks>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the longest time one Redis operation may take before it fails with a <see cref="TimeoutException"/>
    /// (and the request it served goes to the network). A bulk operation (clear, enumeration, bulk delete) applies it
    /// to each batch, not to the whole operation.
    /// </summary>
    /// <remarks>
    /// It applies to every connection, including one passed in by the caller whose own timeouts are longer. A
    /// connection created from a configuration string also uses it as its <c>syncTimeout</c> and <c>asyncTimeout</c>.
    /// </remarks>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how many keys one batch handles: the <c>COUNT</c> hint of each <c>SCAN</c>, and the largest number of
    /// keys in one <c>UNLINK</c> or <c>MGET</c>.
    /// </summary>
    /// <value>The default value is 500.</value>
    public int ScanBatchSize { get; set; } = 500;

    /// <summary>Checks every option and throws on the first invalid one.</summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        Require(!string.IsNullOrEmpty(KeyPrefix), nameof(KeyPrefix), "must not be null or empty");
        Require(Database >= -1, nameof(Database), $"must be -1 (the connection's default) or a database number, not {Database}");
        Require(IsPositiveMilliseconds(ConnectTimeout), nameof(ConnectTimeout), $"must be positive and at most {int.MaxValue} ms, not {ConnectTimeout}");
        Require(IsPositiveMilliseconds(OperationTimeout), nameof(OperationTimeout), $"must be positive and at most {int.MaxValue} ms, not {OperationTimeout}");
        Require(ScanBatchSize is >= 1 and <= 1_000_000, nameof(ScanBatchSize), $"must be between 1 and 1000000, not {ScanBatchSize}");
    }

    /// <summary>Copies these options.</summary>
    public RedisCacheOptions Clone() => (RedisCacheOptions)MemberwiseClone();

    /// <summary>Validates a copy of the given options (defaults when null), so later changes to them have no effect.</summary>
    internal static RedisCacheOptions ValidatedCopy(RedisCacheOptions? options)
    {
        var copy = options?.Clone() ?? new RedisCacheOptions();
        copy.Validate();
        return copy;
    }

    private static bool IsPositiveMilliseconds(TimeSpan value)
        => value > TimeSpan.Zero && value.TotalMilliseconds <= int.MaxValue;

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"RedisCacheOptions.{option} {problem}.", option);
        }
    }
}
