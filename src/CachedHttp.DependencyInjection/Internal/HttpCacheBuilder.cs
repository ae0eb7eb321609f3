using Microsoft.Extensions.DependencyInjection;

namespace CachedHttp.DependencyInjection.Internal;

internal sealed class HttpCacheBuilder(IServiceCollection services, string name) : IHttpCacheBuilder
{
    public string Name { get; } = name;

    public IServiceCollection Services { get; } = services;
}
