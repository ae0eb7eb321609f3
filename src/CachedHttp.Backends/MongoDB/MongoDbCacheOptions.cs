namespace CachedHttp.MongoDB;

/// <summary>Settings of the MongoDB storages (<see cref="MongoDbCache"/>, <see cref="GridFsCache"/>) and their backends.</summary>
/// <remarks>
/// Validated once, when a storage or backend is constructed (<see cref="Validate"/>); an invalid value throws an
/// <see cref="ArgumentException"/> naming the option. Do not change the options after that.
/// </remarks>
public sealed class MongoDbCacheOptions
{
    /// <summary>The largest allowed <see cref="GridFsThreshold"/>: 16 MiB (MongoDB's document limit) less 64 KiB for the key and the other fields.</summary>
    public const long MaxGridFsThreshold = (16L * 1024 * 1024) - (64 * 1024);

    /// <summary>Gets or sets the database a backend built from a connection string uses.</summary>
    /// <remarks>Ignored when the caller passes an <c>IMongoDatabase</c>.</remarks>
    /// <value>The default value is <c>aiohttp-cache</c>, the original's cache name.</value>
    public string DatabaseName { get; set; } = "aiohttp-cache";

    /// <summary>
    /// Gets or sets the size above which a <see cref="MongoDbCache"/> stores a value in GridFS (bucket
    /// <c>{collection}_bodies</c>) instead of inside its document, which MongoDB limits to 16 MiB.
    /// </summary>
    /// <value>The default value is 15 MiB; at most <see cref="MaxGridFsThreshold"/>. Zero sends every non-empty value to GridFS.</value>
    public long GridFsThreshold { get; set; } = 15L * 1024 * 1024;

    /// <summary>Gets or sets how long one MongoDB operation (or one batch of a cursor) may take before it is cancelled (<see cref="Timeout.InfiniteTimeSpan"/> for no limit); a GridFS upload or download gets this much more per 16 MiB it moves.</summary>
    /// <remarks>
    /// Measured with the system clock, since it bounds network I/O. A backend built from a connection string also uses it
    /// as the server selection timeout, so that an unreachable server fails a cache operation quickly (the request then
    /// goes to the network) instead of after the driver's 30 seconds.
    /// </remarks>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks every option and throws on the first invalid one.</summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(DatabaseName) && DatabaseName.IndexOfAny(['/', '\\', '.', ' ', '"', '$', '\0']) < 0 && DatabaseName.Length < 64,
            nameof(DatabaseName), $"'{DatabaseName}' is not a MongoDB database name (1-63 characters, none of / \\ . space \" $)");
        Require(GridFsThreshold is >= 0 and <= MaxGridFsThreshold, nameof(GridFsThreshold), $"must be between 0 and {MaxGridFsThreshold} bytes (MongoDB documents hold at most 16 MiB), not {GridFsThreshold}");
        Require(OperationTimeout > TimeSpan.Zero || OperationTimeout == Timeout.InfiniteTimeSpan, nameof(OperationTimeout), "must be positive or Timeout.InfiniteTimeSpan");
    }

    private static void Require(bool condition, string name, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"MongoDbCacheOptions.{name} {message}.", name);
        }
    }
}
