using StackExchange.Redis;

namespace CachedHttp.Redis.Internal;

/// <summary>Creates the connections that a storage or backend owns.</summary>
internal static class RedisConnections
{
    /// <summary>
    /// Connects to the servers of a StackExchange.Redis configuration string without failing when they are down: the
    /// connection keeps retrying in the background, and until it succeeds each command fails at once (fail-fast), so
    /// that a request falls back to the network instead of waiting for a server that is not there.
    /// </summary>
    /// <remarks>Blocks for the first connection attempt: up to about <see cref="RedisCacheOptions.ConnectTimeout"/> when the server cannot be reached.</remarks>
    /// <param name="configuration">A StackExchange.Redis configuration string, for example <c>localhost:6379</c>.</param>
    /// <param name="options">Validated options; their timeouts replace those of the configuration string.</param>
    /// <exception cref="ArgumentException">The configuration string is invalid.</exception>
    public static ConnectionMultiplexer Connect(string configuration, RedisCacheOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        var config = ConfigurationOptions.Parse(configuration);
        config.AbortOnConnectFail = false;

        // One initial attempt: with the default of 3, a server that is down can hold the constructor for several connect timeouts.
        config.ConnectRetry = 1;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ConnectTimeout = (int)options.ConnectTimeout.TotalMilliseconds;
        config.SyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        config.AsyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        return ConnectionMultiplexer.Connect(config);
    }
}
