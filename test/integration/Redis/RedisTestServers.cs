using System.Collections.Concurrent;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>
/// The Redis servers of the integration tests: a single server (<c>CACHEDHTTP_REDIS</c>, default 127.0.0.1:6390) and a
/// cluster (<c>CACHEDHTTP_REDIS_CLUSTER</c>, default 127.0.0.1:7101-7103), one shared connection each. A test that
/// cannot reach its server is ignored, or fails when <c>CI=true</c> (CI must prove the backend).
/// </summary>
internal static class RedisTestServers
{
    public const string SingleVariable = "CACHEDHTTP_REDIS";
    public const string ClusterVariable = "CACHEDHTTP_REDIS_CLUSTER";

    private static readonly ConcurrentDictionary<string, Lazy<Task<ConnectionMultiplexer>>> Connections = new(StringComparer.Ordinal);

    public static string SingleConfiguration => Environment.GetEnvironmentVariable(SingleVariable) is { Length: > 0 } value ? value : "127.0.0.1:6390";

    public static string ClusterConfiguration => Environment.GetEnvironmentVariable(ClusterVariable) is { Length: > 0 } value
        ? value
        : "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103";

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The shared connection to the single server; ignores (or, in CI, fails) the test when it is not reachable.</summary>
    public static Task<IConnectionMultiplexer> SingleAsync() => ConnectAsync(SingleConfiguration, SingleVariable, cluster: false);

    /// <summary>The shared connection to the cluster; ignores (or, in CI, fails) the test when it is not reachable.</summary>
    public static Task<IConnectionMultiplexer> ClusterAsync() => ConnectAsync(ClusterConfiguration, ClusterVariable, cluster: true);

    /// <summary>Ignores the current test with the reason, or fails it when <c>CI=true</c>.</summary>
    public static void IgnoreOrFail(string reason)
    {
        if (IsCi)
        {
            Assert.Fail(reason + " (CI=true: a missing server is a failure)");
        }

        Assert.Ignore(reason);
    }

    /// <summary>Closes the shared connections.</summary>
    public static async Task CloseAllAsync()
    {
        foreach (var lazy in Connections.Values)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
            {
                await lazy.Value.Result.DisposeAsync();
            }
        }

        Connections.Clear();
    }

    /// <summary>
    /// Deletes every key that starts with <paramref name="prefix"/> from the given databases of every primary, through the
    /// shared connection if there is one and it is connected: the clean-up of a test, even a failed one.
    /// </summary>
    public static async Task DeleteKeysAsync(string configuration, string prefix, params int[] databases)
    {
        if (!Connections.TryGetValue(configuration, out var lazy) || !lazy.IsValueCreated || !lazy.Value.IsCompletedSuccessfully)
        {
            return;
        }

        var connection = lazy.Value.Result;
        if (!connection.IsConnected)
        {
            return;
        }

        foreach (var server in connection.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            foreach (var database in databases)
            {
                var keys = new List<RedisKey>();
                await foreach (var key in server.KeysAsync(database, prefix + "*", pageSize: 1000))
                {
                    keys.Add(key);
                }

                // One key at a time: in a cluster, the keys of one node still span many slots.
                await Task.WhenAll(keys.Select(key => connection.GetDatabase(database).KeyDeleteAsync(key)));
            }
        }
    }

    /// <summary>The counters of <c>INFO commandstats</c>: command name (lower case) → calls.</summary>
    public static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var group in await server.InfoAsync("commandstats"))
        {
            foreach (var pair in group)
            {
                // cmdstat_scan: calls=12,usec=345,...
                if (pair.Key.StartsWith("cmdstat_", StringComparison.Ordinal))
                {
                    var field = pair.Value.Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal));
                    calls[pair.Key["cmdstat_".Length..]] = long.Parse(field["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return calls;
    }

    private static async Task<IConnectionMultiplexer> ConnectAsync(string configuration, string variable, bool cluster)
    {
        var reason = $"Redis not reachable at {configuration}: set {variable} or run ci/servers.sh start";
        var lazy = Connections.GetOrAdd(configuration, c => new Lazy<Task<ConnectionMultiplexer>>(() => OpenAsync(c)));
        ConnectionMultiplexer connection;
        try
        {
            connection = await lazy.Value;
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException)
        {
            IgnoreOrFail($"{reason} ({ex.Message})");
            throw;
        }

        var primaries = connection.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToArray();
        if (!connection.IsConnected || primaries.Length == 0)
        {
            IgnoreOrFail(reason);
        }

        if (cluster && primaries.Any(s => s.ServerType != ServerType.Cluster))
        {
            IgnoreOrFail($"{configuration} is not a Redis Cluster: set {variable} to the cluster's nodes or run ci/servers.sh start");
        }

        return connection;
    }

    private static async Task<ConnectionMultiplexer> OpenAsync(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 3000;
        options.AllowAdmin = true; // INFO commandstats
        return await ConnectionMultiplexer.ConnectAsync(options);
    }
}

/// <summary>Closes the shared Redis connections after every test of this namespace.</summary>
[SetUpFixture]
public sealed class RedisTestsSetUp
{
    [OneTimeTearDown]
    public Task CloseConnections() => RedisTestServers.CloseAllAsync();
}
