using Amazon.DynamoDBv2;
using CachedHttp;
using CachedHttp.DependencyInjection;
using CachedHttp.DynamoDB;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an HTTP cache stored in DynamoDB.</summary>
public static class DynamoDbHttpCacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers a named cache (the default cache when <paramref name="name"/> is null) in DynamoDB. With
    /// <see cref="DynamoDbCacheOptions.ServiceUrl"/> or <see cref="DynamoDbCacheOptions.Region"/> set, the cache creates
    /// and owns its client; otherwise it uses the <see cref="IAmazonDynamoDB"/> registered in the container.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configureDynamo">Sets the DynamoDB settings (validated now).</param>
    /// <param name="configure">Sets the cache options.</param>
    /// <param name="name">The cache name.</param>
    /// <returns>The cache builder.</returns>
    public static IHttpCacheBuilder AddDynamoDbHttpCache(this IServiceCollection services, Action<DynamoDbCacheOptions>? configureDynamo = null, Action<CacheOptions>? configure = null, string? name = null)
    {
        var dynamo = new DynamoDbCacheOptions();
        configureDynamo?.Invoke(dynamo);
        dynamo.Validate();
        var ownsClient = dynamo.ServiceUrl is not null || dynamo.Region is not null;
        return services.AddHttpCache(name).Configure(configure).UseBackend((provider, options) => ownsClient
            ? new DynamoDbBackend(dynamo, options)
            : new DynamoDbBackend(provider.GetRequiredService<IAmazonDynamoDB>(), options, dynamo));
    }
}
