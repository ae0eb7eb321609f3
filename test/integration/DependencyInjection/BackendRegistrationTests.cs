using Amazon.DynamoDBv2;
using CachedHttp.DependencyInjection;
using CachedHttp.DynamoDB;
using CachedHttp.Redis;
using CachedHttp.Tests.Integration.DynamoDB;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.DependencyInjection;

/// <summary>The one-line registrations of the file, Redis and DynamoDB backends, against real storage.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class BackendRegistrationTests : OriginFixture
{
    private async Task<CacheBackend> SecondRequestHitsAsync(IServiceCollection services)
    {
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
        var u = Unique();
        (await client.GetAsync("/json?u=" + u)).Dispose();
        using var hit = await client.GetAsync("/json?u=" + u);
        hit.IsFromCache().Should().BeTrue();
        var cache = provider.GetRequiredService<IHttpCacheProvider>().GetCache("origin");
        await cache.ClearAsync();
        return cache;
    }

    [Test]
    public async Task AddFileHttpCache_StoresInTheDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cachedhttp-di-files-" + Unique());
        try
        {
            var services = new ServiceCollection();
            services.AddFileHttpCache(directory, name: "origin");
            var cache = await SecondRequestHitsAsync(services);
            cache.Should().BeOfType<FileBackend>().Which.Directory.Should().Be(Path.GetFullPath(directory));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Test]
    public async Task AddRedisHttpCache_WithConfigurationString_StoresInRedis()
    {
        (await RedisTestServers.SingleAsync()).Should().NotBeNull();
        var services = new ServiceCollection();
        services.AddRedisHttpCache(RedisTestServers.SingleConfiguration, configureRedis: o => o.KeyPrefix = "di-" + Unique(), name: "origin");
        var cache = await SecondRequestHitsAsync(services);
        cache.Should().BeOfType<RedisBackend>();
    }

    [Test]
    public async Task AddRedisHttpCache_WithContainerMultiplexer_UsesIt()
    {
        var connection = await RedisTestServers.SingleAsync();
        var services = new ServiceCollection();
        services.AddSingleton(connection);
        services.AddRedisHttpCache(configureRedis: o => o.KeyPrefix = "di-" + Unique(), name: "origin");
        var cache = await SecondRequestHitsAsync(services);
        cache.Should().BeOfType<RedisBackend>().Which.Connection.Should().BeSameAs(connection);
        connection.IsConnected.Should().BeTrue("the container must not dispose a connection it did not create");
    }

    [Test]
    public async Task AddDynamoDbHttpCache_WithServiceUrl_StoresInDynamoDb()
    {
        using var probe = await DynamoDbServer.ConnectOrIgnoreAsync();
        var table = "di-" + Unique();
        var services = new ServiceCollection();
        services.AddDynamoDbHttpCache(o =>
        {
            o.TableName = table;
            o.ServiceUrl = DynamoDbServer.Url;
            o.Credentials = DynamoDbServer.Credentials;
        }, name: "origin");
        try
        {
            var cache = await SecondRequestHitsAsync(services);
            cache.Should().BeOfType<DynamoDbBackend>();
        }
        finally
        {
            await DynamoDbServer.DeleteTableQuietlyAsync(probe, table);
        }
    }

    [Test]
    public void AddRedisHttpCache_BadSetting_ThrowsAtRegistration()
    {
        var services = new ServiceCollection();
        var register = () => services.AddRedisHttpCache("localhost", configureRedis: o => o.ScanBatchSize = 0);
        register.Should().Throw<ArgumentException>();
    }
}
