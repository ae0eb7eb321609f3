using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MongoDB.Driver;

namespace CachedHttp.MongoDB.Internal;

/// <summary>Creates the clients that backends built from a connection string own.</summary>
internal static class MongoClients
{
    /// <summary>Validates every option first (so that a bad one leaks no client), then creates a client and picks the database.</summary>
    public static MongoConnection Connect(string connectionString, CacheOptions? options, MongoDbCacheOptions? mongoOptions)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var validated = MongoDbCache.Validated(mongoOptions);
        (options ?? new CacheOptions()).Validate();
        RejectSizeBounds(options);
        MongoClientSettings settings;
        try
        {
            settings = MongoClientSettings.FromConnectionString(connectionString);
        }
        catch (MongoConfigurationException ex)
        {
            throw new ArgumentException("The MongoDB connection string is invalid: " + ex.Message, nameof(connectionString), ex);
        }

        if (validated.OperationTimeout != Timeout.InfiniteTimeSpan && validated.OperationTimeout < settings.ServerSelectionTimeout
            && !connectionString.Contains("serverSelectionTimeoutMS", StringComparison.OrdinalIgnoreCase))
        {
            // An unreachable server then fails a cache operation (and the request goes to the network) within the timeout.
            settings.ServerSelectionTimeout = validated.OperationTimeout;
        }

        var client = new MongoClient(settings);
        return new MongoConnection(client.GetDatabase(validated.DatabaseName), client, validated);
    }

    /// <summary>
    /// Rejects <see cref="CacheOptions.MaxEntries"/> and <see cref="CacheOptions.MaxBytes"/> before a client is created,
    /// so that the rejection leaks no connection (the base constructor rejects them too, once the stores exist).
    /// </summary>
    public static void RejectSizeBounds(CacheOptions? options)
    {
        var option = options?.MaxEntries is not null ? nameof(CacheOptions.MaxEntries) : options?.MaxBytes is not null ? nameof(CacheOptions.MaxBytes) : null;
        if (option is not null)
        {
            throw new ArgumentException(
                $"CacheOptions.{option} is not supported by the MongoDB storage, which has its own eviction (see the backends documentation); use MaxEntryBytes and expiration instead.",
                option);
        }
    }

    public static ILogger Logger(CacheOptions options)
        => (ILogger?)options.LoggerFactory?.CreateLogger("CachedHttp.MongoDB") ?? NullLogger.Instance;
}

/// <summary>A database, the client a backend owns (null when the caller owns it), and the validated options.</summary>
internal sealed record MongoConnection(IMongoDatabase Database, IDisposable? OwnedClient, MongoDbCacheOptions Options);
