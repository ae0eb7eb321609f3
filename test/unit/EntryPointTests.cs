using System.Net.Http.Json;
using System.Text;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Every HttpClient entry point goes through the cache: the second call never reaches the network.</summary>
[Parallelizable(ParallelScope.All)]
public class EntryPointTests
{
    private const string Url = "https://example.com/data";
    private const string Json = """{"name":"cached","count":3}""";

    private sealed record Payload(string Name, int Count);

    private static async Task<string> ReadStream(Stream stream)
    {
        await using (stream)
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return await reader.ReadToEndAsync();
        }
    }

    private static IEnumerable<TestCaseData> SessionEntryPoints() => EntryPoints("_CalledTwiceOnCachedSession_SecondCallIsServedFromCache", includeSession: true);

    private static IEnumerable<TestCaseData> ClientEntryPoints() => EntryPoints("_CalledTwiceOnHttpClientWithCachingHandler_SecondCallIsServedFromCache", includeSession: false);

    private static IEnumerable<TestCaseData> EntryPoints(string suffix, bool includeSession)
    {
        TestCaseData Case(string name, Func<HttpClient, Task<string>> call) => new TestCaseData(call).SetName(name + suffix);

        yield return Case("GetAsync", async c =>
        {
            using var response = await c.GetAsync(Url);
            return await response.Content.ReadAsStringAsync();
        });
        yield return Case("GetAsyncResponseHeadersRead", async c =>
        {
            using var response = await c.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);
            return await ReadStream(await response.Content.ReadAsStreamAsync());
        });
        yield return Case("GetStringAsync", c => c.GetStringAsync(Url));
        yield return Case("GetByteArrayAsync", async c => Encoding.UTF8.GetString(await c.GetByteArrayAsync(Url)));
        yield return Case("GetStreamAsync", async c => await ReadStream(await c.GetStreamAsync(Url)));
        yield return Case("GetFromJsonAsync", async c =>
        {
            var payload = await c.GetFromJsonAsync<Payload>(Url);
            payload.Should().Be(new Payload("cached", 3));
            return Json;
        });
        yield return Case("SendAsync", async c =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Url);
            using var response = await c.SendAsync(request);
            return await response.Content.ReadAsStringAsync();
        });
        yield return Case("SendAsyncResponseHeadersRead", async c =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Url);
            using var response = await c.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            return await ReadStream(await response.Content.ReadAsStreamAsync());
        });
        yield return Case("Send", c =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Url);
            using var response = c.Send(request);
            using var reader = new StreamReader(response.Content.ReadAsStream());
            return Task.FromResult(reader.ReadToEnd());
        });
        yield return Case("SendResponseHeadersRead", c =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Url);
            using var response = c.Send(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(response.Content.ReadAsStream());
            return Task.FromResult(reader.ReadToEnd());
        });
        if (!includeSession)
        {
            yield break;
        }

        yield return Case("CachedSessionGetAsyncWithExpiration", async c =>
        {
            using var response = await ((CachedSession)c).GetAsync(Url, Expiration.After(TimeSpan.FromHours(1)), CancellationToken.None);
            return await response.Content.ReadAsStringAsync();
        });
        yield return Case("CachedSessionGetStringAsyncWithExpiration", c => ((CachedSession)c).GetStringAsync(Url, Expiration.After(TimeSpan.FromHours(1)), CancellationToken.None));
        yield return Case("CachedSessionGetByteArrayAsyncWithExpiration", async c =>
            Encoding.UTF8.GetString(await ((CachedSession)c).GetByteArrayAsync(Url, Expiration.After(TimeSpan.FromHours(1)), CancellationToken.None)));
    }

    [TestCaseSource(nameof(SessionEntryPoints))]
    public async Task EntryPoint_CalledTwice_SecondCallIsServedFromCache(Func<HttpClient, Task<string>> call)
    {
        var stub = new StubHandler().Respond(Url, StubResponse.Json(Json));
        using var backend = new CacheBackend();
        using var session = new CachedSession(backend, stub);

        var first = await call(session);
        var second = await call(session);

        first.Should().Be(Json);
        second.Should().Be(Json);
        stub.CallCount(Url).Should().Be(1);
        (await backend.HasUrlAsync(Url)).Should().BeTrue();
    }

    [TestCaseSource(nameof(ClientEntryPoints))]
    public async Task EntryPoint_ThroughPlainHttpClientWithHandler_Caches(Func<HttpClient, Task<string>> call)
    {
        var stub = new StubHandler().Respond(Url, StubResponse.Json(Json));
        using var backend = new CacheBackend();
        using var client = new HttpClient(new CachingHandler(backend, stub));

        await call(client);
        await call(client);

        stub.CallCount(Url).Should().Be(1);
    }

    [Test]
    public async Task SendAsync_Head_IsCachedSeparatelyFromGet()
    {
        using var cache = new TestCache();

        (await cache.SendAsync(HttpMethod.Head, Url)).Dispose();
        (await cache.SendAsync(HttpMethod.Head, Url)).Dispose();
        (await cache.GetAsync(Url)).Response.Dispose();

        cache.Stub.RequestsTo(Url).Select(r => r.Method.Method).Should().Equal("HEAD", "GET");
    }

    [Test]
    public async Task PostAsync_ByDefault_IsNotCached()
    {
        using var cache = new TestCache();

        (await cache.Client.PostAsync(Url, new StringContent("x"))).Dispose();
        (await cache.Client.PostAsync(Url, new StringContent("x"))).Dispose();

        cache.Stub.CallCount(Url).Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task PostAsync_PostAllowed_IsCachedByBody()
    {
        using var cache = new TestCache(o => o.AllowedMethods.Add("POST"));

        (await cache.Client.PostAsync(Url, new StringContent("x"))).Dispose();
        (await cache.Client.PostAsync(Url, new StringContent("x"))).Dispose();
        (await cache.Client.PostAsync(Url, new StringContent("y"))).Dispose();

        cache.Stub.RequestsTo(Url).Select(r => Encoding.UTF8.GetString(r.Body)).Should().Equal("x", "y");
    }

    [Test]
    public async Task SendAsync_RelativeUriWithoutBaseAddress_IsNotCachedButStillFails()
    {
        // Without an absolute URI nothing can be keyed; HttpClient itself refuses the request.
        using var cache = new TestCache();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/relative");

        var act = () => cache.Client.SendAsync(request);

        await act.Should().ThrowAsync<InvalidOperationException>();
        cache.Stub.TotalCalls.Should().Be(0);
    }
}
