using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Tests.Integration.Foundation;
using CachedHttp.Tests.Integration.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CachedHttp.Tests.Integration.Load;

/// <summary>
/// Issue 6, load: 1,000 concurrent mixed requests over 200 distinct origin URLs through one backend, against the real
/// Kestrel origin, end with no error, every body correct (SHA-256), and no origin URL fetched more than once
/// (coalescing and caching); a second wave is served wholly from the cache. Subclass it once per backend, as
/// <see cref="CachedHttp.Testing.CacheBackendContractTests"/>.
/// </summary>
/// <remarks>
/// The 200 origin URLs: 150 content URLs (40 with a query string, 10 asked for with HEAD only), 25 redirecting URLs
/// (301, 302 or 307) and the 25 URLs they redirect to, which are reached through the redirects only. Bodies are 0 B to
/// 256 KiB, text or binary, derived from the URL. Requests mix <c>GetAsync</c>, <c>GetStringAsync</c> (text bodies),
/// <c>GetByteArrayAsync</c>, <c>GetStreamAsync</c> and HEAD. A redirect target is not also asked for directly: the
/// handler follows a redirect hop without looking it up in the cache or joining a fetch in flight (as aiohttp does for
/// the original library), so such a target is fetched once by the hop and once directly.
/// </remarks>
public abstract class LoadContractTests : OriginFixture
{
    private const int Requests = 1000;
    private const int ContentUrls = 150;
    private const int RedirectingUrls = 25;
    private const int DistinctOriginUrls = ContentUrls + (2 * RedirectingUrls);
    private const int MaxBodyLength = 256 * 1024;
    private static readonly TimeSpan WaveTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Creates a new, empty backend with the given options.</summary>
    /// <param name="options">The options (a log collector; <see cref="CacheOptions.AutoClose"/> off: the test disposes the backend).</param>
    /// <param name="name">A name unique to this test (a file, table, prefix or database name can be derived from it).</param>
    protected abstract ValueTask<CacheBackend> CreateBackendAsync(CacheOptions options, string name);

    [Test]
    public Task ThousandConcurrentRequests_OneSession_EveryBodyCorrectAndEachUrlFetchedOnce()
        => RunAsync(sessions: 1);

    [Test]
    public Task ThousandConcurrentRequests_FourSessionsSharingTheBackend_EveryBodyCorrectAndEachUrlFetchedOnce()
        => RunAsync(sessions: 4);

    private async Task RunAsync(int sessions)
    {
        var run = "l" + Guid.NewGuid().ToString("N")[..10];
        var logs = new LogCollector();
        var backend = await CreateBackendAsync(new CacheOptions { LoggerFactory = logs, AutoClose = false }, run);
        var name = GetType().Name.Replace("LoadTests", string.Empty, StringComparison.Ordinal);
        var site = new Site(Origin, run);
        var clients = Enumerable.Range(0, sessions).Select(_ => new CachedSession(backend) { BaseAddress = Origin.BaseAddress }).ToArray();
        try
        {
            var first = await WaveAsync(site, clients, seed: 1);
            var origin = site.Fetches;
            TestContext.Out.WriteLine(
                $"{name}, {sessions} session(s), wave 1: {Requests} requests over {site.RequestUrls.Count} request URLs in {first.Elapsed.TotalMilliseconds:F0} ms; "
                + $"{origin.Values.Sum()} origin requests for {DistinctOriginUrls} distinct origin URLs; {first.FromCache} of {first.Checked} GetAsync/HEAD responses from the cache or a shared fetch");
            Assert.Multiple(() =>
            {
                Assert.That(first.Errors, Is.Empty, "no request fails");
                Assert.That(origin.Values.Sum(), Is.LessThanOrEqualTo(DistinctOriginUrls), "origin requests ≤ distinct origin URLs");
                Assert.That(origin.Where(f => f.Value > 1).Select(f => $"{f.Key} ×{f.Value}"), Is.Empty, "no origin URL is fetched twice");
                Assert.That(logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message), Is.Empty, "no storage failure or corrupt entry was logged");
            });

            site.ResetFetches();
            var second = await WaveAsync(site, clients, seed: 2);
            TestContext.Out.WriteLine(
                $"{name}, {sessions} session(s), wave 2: {Requests} requests in {second.Elapsed.TotalMilliseconds:F0} ms; "
                + $"{site.Fetches.Values.Sum()} origin requests; {second.FromCache} of {second.Checked} GetAsync/HEAD responses from the cache");
            Assert.Multiple(() =>
            {
                Assert.That(second.Errors, Is.Empty, "no request fails");
                Assert.That(site.Fetches, Is.Empty, "the second wave is served from the cache alone");
                Assert.That(second.FromCache, Is.EqualTo(second.Checked), "every response of the second wave says it is from the cache");
                Assert.That(logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message), Is.Empty);
            });
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            try
            {
                await backend.ClearAsync();
            }
            finally
            {
                await backend.DisposeAsync();
                site.Unmap();
            }
        }
    }

    /// <summary>Fires every request of a wave at once and checks each answer against its URL's checksum.</summary>
    private static async Task<WaveResult> WaveAsync(Site site, CachedSession[] clients, int seed)
    {
        var random = new Random(seed);

        // Every request URL at least once, then random picks; the order shuffled.
        var plan = site.RequestUrls.Concat(Enumerable.Range(0, Requests - site.RequestUrls.Count).Select(_ => site.RequestUrls[random.Next(site.RequestUrls.Count)])).ToArray();
        random.Shuffle(plan);
        var calls = plan.Select(url => (Url: url, Call: url.HeadOnly ? Call.Head : url.Body.IsText ? (Call)random.Next(4) : Pick(random, Call.GetAsync, Call.GetByteArrayAsync, Call.GetStreamAsync))).ToArray();

        var errors = new ConcurrentQueue<string>();
        int fromCache = 0, checkedResponses = 0;
        using var timeout = new CancellationTokenSource(WaveTimeout);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = calls.Select(async (call, i) =>
        {
            await gate.Task;
            var client = clients[i % clients.Length];
            try
            {
                var (bytes, cached) = await SendAsync(client, call.Url, call.Call, timeout.Token);
                if (cached is { } isCached)
                {
                    Interlocked.Increment(ref checkedResponses);
                    if (isCached)
                    {
                        Interlocked.Increment(ref fromCache);
                    }
                }

                var body = call.Url.Body;
                if (call.Call == Call.Head)
                {
                    if (bytes.Length != 0)
                    {
                        errors.Enqueue($"HEAD {call.Url.PathAndQuery}: a body of {bytes.Length} bytes");
                    }
                }
                else if (!Convert.ToHexStringLower(SHA256.HashData(bytes)).Equals(body.Sha256, StringComparison.Ordinal))
                {
                    errors.Enqueue($"{call.Call} {call.Url.PathAndQuery}: {bytes.Length} bytes whose SHA-256 is not that of the expected {body.Bytes.Length}");
                }
            }
            catch (Exception exception)
            {
                errors.Enqueue($"{call.Call} {call.Url.PathAndQuery}: {exception.GetType().Name}: {exception.Message}");
            }
        }).ToArray();

        var stopwatch = Stopwatch.StartNew();
        gate.SetResult();
        await Task.WhenAll(tasks);
        return new WaveResult(stopwatch.Elapsed, [.. errors], fromCache, checkedResponses);
    }

    /// <summary>Sends one request the way the call says; returns the body bytes and, when the call can tell, whether it came from the cache.</summary>
    private static async Task<(byte[] Body, bool? FromCache)> SendAsync(CachedSession client, RequestUrl url, Call call, CancellationToken cancellationToken)
    {
        switch (call)
        {
            case Call.GetStringAsync:
                return (Encoding.UTF8.GetBytes(await client.GetStringAsync(url.PathAndQuery, cancellationToken)), null);
            case Call.GetByteArrayAsync:
                return (await client.GetByteArrayAsync(url.PathAndQuery, cancellationToken), null);
            case Call.GetStreamAsync:
                {
                    await using var stream = await client.GetStreamAsync(url.PathAndQuery, cancellationToken);
                    using var copy = new MemoryStream();
                    await stream.CopyToAsync(copy, cancellationToken);
                    return (copy.ToArray(), null);
                }

            default:
                {
                    using var request = new HttpRequestMessage(call == Call.Head ? HttpMethod.Head : HttpMethod.Get, url.PathAndQuery);
                    using var response = await client.SendAsync(request, cancellationToken);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        throw new HttpRequestException($"status {(int)response.StatusCode}");
                    }

                    if (response.Content.Headers.ContentLength != url.Body.Bytes.Length)
                    {
                        throw new HttpRequestException($"Content-Length {response.Content.Headers.ContentLength}, not {url.Body.Bytes.Length}");
                    }

                    return (await response.Content.ReadAsByteArrayAsync(cancellationToken), response.IsFromCache());
                }
        }
    }

    private static Call Pick(Random random, params Call[] calls) => calls[random.Next(calls.Length)];

    private enum Call
    {
        GetAsync,
        GetStringAsync,
        GetByteArrayAsync,
        GetStreamAsync,
        Head,
    }

    private sealed record WaveResult(TimeSpan Elapsed, IReadOnlyList<string> Errors, int FromCache, int Checked);

    /// <summary>A body derived from its URL: text (ASCII) or binary, with its SHA-256.</summary>
    private sealed record Body(byte[] Bytes, bool IsText)
    {
        public string Sha256 { get; } = Convert.ToHexStringLower(SHA256.HashData(Bytes));

        public static Body For(string pathAndQuery, int length, bool isText)
        {
            var random = new Random(BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(pathAndQuery))));
            var bytes = new byte[length];
            random.NextBytes(bytes);
            if (isText)
            {
                for (var i = 0; i < bytes.Length; i++)
                {
                    bytes[i] = (byte)(i % 64 == 63 ? '\n' : 'a' + (bytes[i] % 26));
                }
            }

            return new Body(bytes, isText);
        }
    }

    /// <summary>A URL the test asks for, and the body the client must end up with (a redirect's target body).</summary>
    private sealed record RequestUrl(string PathAndQuery, Body Body, bool HeadOnly);

    /// <summary>The 200 origin URLs of one test, mapped on the origin, each counting its fetches.</summary>
    private sealed class Site
    {
        private readonly CachedHttp.Testing.TestOrigin _origin;
        private readonly List<string> _paths = [];
        private ConcurrentDictionary<string, int> _fetches = new(StringComparer.Ordinal);

        public Site(CachedHttp.Testing.TestOrigin origin, string run)
        {
            _origin = origin;
            Run = run;
            var lengths = new Random(run.GetHashCode(StringComparison.Ordinal));
            var urls = new List<RequestUrl>();
            for (var i = 0; i < ContentUrls + RedirectingUrls; i++)
            {
                // 0 B, 256 KiB, then mostly small: 60 % under 4 KiB, 30 % under 64 KiB, 10 % up to 256 KiB.
                var length = i switch
                {
                    0 => 0,
                    1 => MaxBodyLength,
                    _ => lengths.Next(10) switch
                    {
                        < 6 => lengths.Next(4 * 1024),
                        < 9 => lengths.Next(64 * 1024),
                        _ => lengths.Next(MaxBodyLength + 1),
                    },
                };
                var isText = i % 2 == 1;
                if (i < ContentUrls)
                {
                    var path = $"/load/{run}/c{i}";
                    var query = i % 4 == 1 ? $"?page={i}&sort=name%20asc&tag=a&tag=b" : string.Empty;
                    var body = Body.For(path + query, length, isText);
                    MapContent(path, query, body);
                    urls.Add(new RequestUrl(path + query, body, HeadOnly: i % 15 == 7));
                }
                else
                {
                    var j = i - ContentUrls;
                    var target = $"/load/{run}/t{j}";
                    var body = Body.For(target, length, isText);
                    MapContent(target, string.Empty, body);
                    var redirect = $"/load/{run}/r{j}";
                    var status = (j % 3) switch { 0 => StatusCodes.Status301MovedPermanently, 1 => StatusCodes.Status302Found, _ => StatusCodes.Status307TemporaryRedirect };
                    Map(redirect, context =>
                    {
                        context.Response.StatusCode = status;
                        context.Response.Headers.Location = target;
                        return Task.CompletedTask;
                    });
                    urls.Add(new RequestUrl(redirect, body, HeadOnly: false));
                }
            }

            RequestUrls = urls;
        }

        public string Run { get; }

        public IReadOnlyList<RequestUrl> RequestUrls { get; }

        /// <summary>Origin requests since the start or the last reset, by "METHOD path?query".</summary>
        public IReadOnlyDictionary<string, int> Fetches => _fetches;

        public void ResetFetches() => _fetches = new(StringComparer.Ordinal);

        public void Unmap()
        {
            foreach (var path in _paths)
            {
                _origin.Unmap(path);
            }
        }

        private void MapContent(string path, string query, Body body)
            => Map(path, async context =>
            {
                if (context.Request.QueryString.Value != (query.Length == 0 ? null : query) && context.Request.QueryString.Value != query)
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return;
                }

                // A little origin latency, so that concurrent requests for one URL overlap.
                await Task.Delay(5 + (body.Bytes.Length % 20), context.RequestAborted);
                context.Response.ContentType = body.IsText ? "text/plain; charset=utf-8" : "application/octet-stream";
                context.Response.ContentLength = body.Bytes.Length;
                context.Response.Headers["X-Body-Sha256"] = body.Sha256;
                if (!HttpMethods.IsHead(context.Request.Method))
                {
                    await context.Response.Body.WriteAsync(body.Bytes, context.RequestAborted);
                }
            });

        private void Map(string path, RequestDelegate handler)
        {
            _paths.Add(path);
            _origin.Map(path, context =>
            {
                _fetches.AddOrUpdate(context.Request.Method + " " + path + context.Request.QueryString.Value, 1, static (_, n) => n + 1);
                return handler(context);
            });
        }
    }
}
