using CachedHttp.DependencyInjection;
using CachedHttp.Tests.Integration.Foundation;
using Microsoft.Extensions.DependencyInjection;

namespace CachedHttp.Tests.Integration.DependencyInjection;

/// <summary>ICachedSessionFactory: a CachedSession over a named client's pipeline and configuration.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class CachedSessionFactoryTests : OriginFixture
{
    [Test]
    public async Task CreateSession_NamedClient_HasItsBaseAddressTimeoutAndHeaders()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c =>
        {
            c.BaseAddress = Origin.BaseAddress;
            c.Timeout = TimeSpan.FromSeconds(42);
            c.DefaultRequestHeaders.Add("X-Client", "origin-client");
        }).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();

        using var session = provider.GetRequiredService<ICachedSessionFactory>().CreateSession("origin");
        var path = "/echo?u=" + Unique();
        var body = await session.GetStringAsync(path);

        session.BaseAddress.Should().Be(Origin.BaseAddress);
        session.Timeout.Should().Be(TimeSpan.FromSeconds(42));
        body.Should().Contain("origin-client");
    }

    [Test]
    public async Task CreateSession_SharesTheClientsCache_WithFactoryClients()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        var path = "/json?u=" + Unique();

        (await provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin").GetAsync(path)).Dispose();
        using var session = provider.GetRequiredService<ICachedSessionFactory>().CreateSession("origin");
        using var hit = await session.GetAsync(path);

        hit.IsFromCache().Should().BeTrue();
        session.Cache.Should().BeSameAs(provider.GetRequiredService<IHttpCacheProvider>().GetCache("origin"));
    }

    [Test]
    public async Task CreateSession_ConvenienceMembers_Work()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
        await using var provider = services.BuildServiceProvider();
        using var session = provider.GetRequiredService<ICachedSessionFactory>().CreateSession("origin");
        var path = "/json?u=" + Unique();

        using (await session.GetAsync(path, Expiration.After(TimeSpan.FromMinutes(1))))
        {
        }

        using var hit = await session.GetAsync(path);
        HttpResponseMessage bypassed;
        using (session.Disabled())
        {
            bypassed = await session.GetAsync(path);
        }

        hit.IsFromCache().Should().BeTrue();
        hit.GetCacheInfo().ExpiresAt.Should().NotBeNull();
        bypassed.IsFromCache().Should().BeFalse();
        bypassed.Dispose();
    }

    [Test]
    public async Task DisposingSession_LeavesPipelineAndCacheUsable()
    {
        var services = new ServiceCollection();
        services.AddHttpCache("files-like", o => o.AutoClose = true);
        services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching("files-like");
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<ICachedSessionFactory>();
        var path = "/json?u=" + Unique();

        using (var session = factory.CreateSession("origin"))
        {
            (await session.GetAsync(path)).Dispose();
        }

        await using var next = factory.CreateSession("origin");
        using var hit = await next.GetAsync(path);

        hit.IsFromCache().Should().BeTrue("neither the factory's pipeline nor the container's cache was disposed with the session");
    }

    [Test]
    public async Task CreateSession_ClientWithoutCaching_ThrowsNamingIt()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("cached").AddHttpCaching();
        services.AddHttpClient("plain");
        await using var provider = services.BuildServiceProvider();

        var create = () => provider.GetRequiredService<ICachedSessionFactory>().CreateSession("plain");

        create.Should().Throw<InvalidOperationException>().WithMessage("*'plain'*AddHttpCaching*");
    }

    [Test]
    public void CachedSession_OverPipelineWithoutCachingHandler_Throws()
    {
        var create = () => new CachedSession(new HttpClientHandler(), disposeHandler: true);

        create.Should().Throw<ArgumentException>().WithMessage("*CachingHandler*");
    }
}
