using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit.Infrastructure;

/// <summary>One test's cache: a fake clock, a stub network, a backend and a client whose handler is the caching handler.</summary>
public sealed class TestCache : IDisposable
{
    public static readonly DateTimeOffset Start = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);

    public TestCache(Action<CacheOptions>? configure = null, StubHandler? stub = null, bool followRedirects = false, Func<CacheOptions, CacheBackend>? backend = null)
    {
        Time = new FakeTimeProvider(Start);
        Options = new CacheOptions { TimeProvider = Time };
        configure?.Invoke(Options);
        Stub = stub ?? new StubHandler();
        Backend = backend?.Invoke(Options) ?? new CacheBackend(Options);
        Handler = new CachingHandler(Backend, Stub) { FollowRedirects = followRedirects };
        Client = new HttpClient(Handler, disposeHandler: true);
    }

    public FakeTimeProvider Time { get; }

    public CacheOptions Options { get; }

    public StubHandler Stub { get; }

    public CacheBackend Backend { get; }

    public CachingHandler Handler { get; }

    public HttpClient Client { get; }

    /// <summary>Sends a GET and reads the whole body; returns the response (body buffered) and the body text.</summary>
    public async Task<(HttpResponseMessage Response, string Body)> GetAsync(string url, Action<HttpRequestMessage>? configure = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        configure?.Invoke(request);
        var response = await Client.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response, body);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, url);
        configure?.Invoke(request);
        var response = await Client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    public string KeyOf(string url, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, url);
        return Backend.CreateKey(request);
    }

    public ValueTask<long> StoredCountAsync() => Backend.Responses.CountAsync();

    public void Dispose()
    {
        Client.Dispose();
        Backend.Dispose();
    }
}

public static class HttpDates
{
    public static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("r", System.Globalization.CultureInfo.InvariantCulture);
}

public static class Eventually
{
    /// <summary>Waits (in real time, up to 10 s) until <paramref name="condition"/> holds.</summary>
    public static async Task Until(Func<bool> condition, string because)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting until " + because);
            }

            await Task.Delay(5);
        }
    }
}
