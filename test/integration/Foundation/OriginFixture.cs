using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.Foundation;

/// <summary>Starts one real Kestrel origin for the fixture.</summary>
public abstract class OriginFixture
{
    protected TestOrigin Origin { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartOrigin() => Origin = await TestOrigin.StartAsync();

    [OneTimeTearDown]
    public async Task StopOrigin() => await Origin.DisposeAsync();

    protected static string Unique() => Guid.NewGuid().ToString("N")[..10];

    protected CachedSession NewSession(CacheOptions? options = null, CacheBackend? backend = null)
        => new(backend ?? new CacheBackend(options)) { BaseAddress = Origin.BaseAddress };
}
