using System.Net;

namespace CachedHttp.Benchmarks;

/// <summary>Shared pieces: a response shape (status, headers, body) and a handler that answers with it in memory.</summary>
internal static class Support
{
    public static readonly (string Name, string Value)[] ResponseHeaders =
    [
        ("Date", "Wed, 25 Nov 2026 12:00:00 GMT"),
        ("ETag", "\"abc123\""),
        ("Cache-Control", "max-age=3600"),
        ("Server", "bench"),
    ];

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

    /// <summary>An origin in memory: answers every request with the given body.</summary>
    public sealed class BodyHandler(byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => Task.FromResult(BuildResponse(body, request));
    }
}
