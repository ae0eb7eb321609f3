using System.Net;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using CachedHttp.Testing;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;

namespace CachedHttp.Benchmarks;

/// <summary>Shared pieces: a response shape (status, headers, body), an in-memory origin, the Kestrel origin and the servers.</summary>
internal static class Support
{
    public const string Url = "http://bench.local/items/42?page=1";

    public static readonly (string Name, string Value)[] ResponseHeaders =
    [
        ("Date", "Wed, 25 Nov 2026 12:00:00 GMT"),
        ("ETag", "\"abc123\""),
        ("Cache-Control", "max-age=3600"),
        ("Server", "bench"),
    ];

    private static readonly Lazy<Task<TestOrigin>> SharedOrigin = new(StartOriginAsync);

    public static byte[] Body(int size)
    {
        var body = new byte[size];
        new Random(42).NextBytes(body);
        return body;
    }

    /// <summary>The floor of a hit: a fresh response message with the same status, headers and body around stored bytes.</summary>
    public static HttpResponseMessage BuildResponse(byte[] body, HttpRequestMessage? request = null)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new ReadOnlyMemoryContent(body) };
        foreach (var (name, value) in ResponseHeaders)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        response.Content.Headers.TryAddWithoutValidation("Content-Type", "application/octet-stream");
        return response;
    }

    /// <summary>Stores one response for <see cref="Url"/> through the handler (a miss), reading its body to the end.</summary>
    public static void Warm(HttpMessageInvoker invoker, string url = Url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        using var response = invoker.SendAsync(request, CancellationToken.None).GetAwaiter().GetResult();
        response.Content.LoadIntoBufferAsync().GetAwaiter().GetResult();
    }

    /// <summary>One cache hit through the handler; returns the body length, as the floors do.</summary>
    public static async Task<long> HitAsync(HttpMessageInvoker invoker, string url = Url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        using var response = await invoker.SendAsync(request, CancellationToken.None);
        return response.Content.Headers.ContentLength ?? 0;
    }

    public static string TempDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cachedhttp-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    public static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The local Kestrel origin of the network rows (one per process): <see cref="TestOrigin"/> with <c>/bench/{n}</c>
    /// answering <c>n</c> bytes with the same headers as <see cref="ResponseHeaders"/> (304 when If-None-Match matches),
    /// and <c>/bench/slow/{n}</c> doing the same after 20 ms.
    /// </summary>
    public static TestOrigin Origin => SharedOrigin.Value.GetAwaiter().GetResult();

    /// <summary>A network handler as CachedSession uses one: no redirects, no decompression, no cookies.</summary>
    public static SocketsHttpHandler NetworkHandler(int maxConnections = int.MaxValue) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        MaxConnectionsPerServer = maxConnections,
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
    };

    private static async Task<TestOrigin> StartOriginAsync()
    {
        var origin = await TestOrigin.StartAsync();
        foreach (var size in new[] { 1024, 65536, 1048576 })
        {
            var body = Body(size);
            origin.Map($"/bench/{size}", context => AnswerAsync(context, body, delay: TimeSpan.Zero));
            origin.Map($"/bench/slow/{size}", context => AnswerAsync(context, body, delay: TimeSpan.FromMilliseconds(20)));
        }

        return origin;
    }

    private static async Task AnswerAsync(HttpContext context, byte[] body, TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay);
        }

        var response = context.Response;
        foreach (var (name, value) in ResponseHeaders)
        {
            if (name != "Cache-Control")
            {
                response.Headers[name] = value;
            }
        }

        // no-cache: stored, and revalidated on every use when the cache follows Cache-Control (the 304 row).
        response.Headers.CacheControl = context.Request.Query.ContainsKey("revalidate") ? "no-cache" : "max-age=3600";
        if (context.Request.Headers.IfNoneMatch == "\"abc123\"")
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body);
    }

    /// <summary>The servers of the Redis and DynamoDB rows, from CACHEDHTTP_REDIS and CACHEDHTTP_DYNAMODB_URL.</summary>
    public static class Servers
    {
        private static readonly Lazy<ConnectionMultiplexer> SharedRedis = new(() => ConnectionMultiplexer.Connect(RedisConfiguration + ",abortConnect=false,connectTimeout=2000,syncTimeout=5000"));

        public static string RedisConfiguration => Environment.GetEnvironmentVariable("CACHEDHTTP_REDIS") is { Length: > 0 } value ? value : "127.0.0.1:6379";

        public static string DynamoDbUrl => Environment.GetEnvironmentVariable("CACHEDHTTP_DYNAMODB_URL") is { Length: > 0 } value ? value : "http://127.0.0.1:4567";

        public static ConnectionMultiplexer Redis => SharedRedis.Value;

        public static AmazonDynamoDBClient CreateDynamoDbClient()
            => new(new BasicAWSCredentials("x", "x"), new AmazonDynamoDBConfig { ServiceURL = DynamoDbUrl, AuthenticationRegion = "us-east-1" });

        /// <summary>Why Redis cannot be used, or null when it answers a PING.</summary>
        public static string? RedisProblem()
        {
            try
            {
                Redis.GetDatabase().Ping();
                return null;
            }
            catch (Exception ex)
            {
                return $"no Redis at {RedisConfiguration} (set CACHEDHTTP_REDIS): {ex.GetType().Name}: {Short(ex.Message)}";
            }
        }

        /// <summary>Why DynamoDB cannot be used, or null when it lists tables.</summary>
        public static string? DynamoDbProblem()
        {
            try
            {
                using var client = CreateDynamoDbClient();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                client.ListTablesAsync(new ListTablesRequest { Limit = 1 }, timeout.Token).GetAwaiter().GetResult();
                return null;
            }
            catch (Exception ex)
            {
                return $"no DynamoDB at {DynamoDbUrl} (set CACHEDHTTP_DYNAMODB_URL): {ex.GetType().Name}: {Short(ex.Message)}";
            }
        }

        private static string Short(string message)
        {
            var end = message.IndexOf(" - ", StringComparison.Ordinal);
            message = end > 0 ? message[..end] : message;
            return message.Length > 200 ? message[..200] + "…" : message;
        }
    }

    /// <summary>An origin in memory: answers every request with the given body.</summary>
    public sealed class BodyHandler(byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => Task.FromResult(BuildResponse(body, request));
    }
}
