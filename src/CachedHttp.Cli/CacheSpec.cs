namespace CachedHttp.Cli;

/// <summary>Opens a backend from a <c>--cache</c> spec.</summary>
public static class CacheSpec
{
    /// <summary>Gets the default cache file: <c>http_cache.sqlite</c> in the per-user cache folder.</summary>
    public static string DefaultSqlitePath
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(root))
            {
                root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
            }

            if (string.IsNullOrEmpty(root))
            {
                root = Path.GetTempPath();
            }

            return Path.Combine(root, "cachedhttp", "http_cache.sqlite");
        }
    }

    public static CacheBackend Open(string? spec, CacheOptions? options = null)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            return new Sqlite.SqliteBackend(DefaultSqlitePath, options);
        }

        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var kind = (colon < 0 ? spec : spec[..colon]).ToLowerInvariant();
        var argument = colon < 0 ? string.Empty : spec[(colon + 1)..];
        return kind switch
        {
            "memory" => new CacheBackend(options),
            "sqlite" => new Sqlite.SqliteBackend(Required(argument, kind), options),
            "file" => new FileBackend(Required(argument, kind), options),
            "redis" => new Redis.RedisBackend(Required(argument, kind), options),
            "mongodb" => new MongoDB.MongoDbBackend(spec, options),
            "dynamodb" => OpenDynamo(Required(argument, kind), options),
            _ => throw new ArgumentException($"unknown cache kind '{kind}' in '{spec}': use memory, sqlite:PATH, file:DIR, redis:CONNECTION, mongodb:URI or dynamodb:TABLE[@URL]"),
        };
    }

    private static CacheBackend OpenDynamo(string argument, CacheOptions? options)
    {
        var at = argument.IndexOf('@', StringComparison.Ordinal);
        var dynamo = new DynamoDB.DynamoDbCacheOptions { TableName = at < 0 ? argument : argument[..at] };
        if (at >= 0)
        {
            dynamo.ServiceUrl = argument[(at + 1)..];
        }

        return new DynamoDB.DynamoDbBackend(dynamo, options);
    }

    private static string Required(string argument, string kind)
        => string.IsNullOrWhiteSpace(argument) ? throw new ArgumentException($"'{kind}:' needs a value, as in {kind}:{(kind == "redis" ? "localhost:6379" : "PATH")}") : argument;
}
