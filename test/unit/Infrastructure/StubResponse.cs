using System.Net;
using System.Text;

namespace CachedHttp.Tests.Unit.Infrastructure;

/// <summary>What a <see cref="StubHandler"/> answers: status, headers, body (bytes or a stream), delay, gate or exception.</summary>
public sealed class StubResponse
{
    private readonly List<KeyValuePair<string, string>> _headers = [];

    public HttpStatusCode Status { get; private set; } = HttpStatusCode.OK;

    public byte[] Body { get; private set; } = [];

    /// <summary>Creates the body stream; when set, <see cref="Body"/> is ignored and no Content-Length is sent unless set.</summary>
    public Func<Stream>? BodyStream { get; private set; }

    public long? ContentLength { get; private set; }

    public string? ContentType { get; private set; } = "text/plain";

    public TimeSpan Delay { get; private set; }

    /// <summary>The stub waits for this task (or the request's cancellation) before answering.</summary>
    public Task? Gate { get; private set; }

    public Exception? Exception { get; private set; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    public static StubResponse Ok(string body = "") => new StubResponse().WithBody(body);

    public static StubResponse Ok(byte[] body) => new StubResponse().WithBody(body);

    public static StubResponse WithStatus(HttpStatusCode status, string body = "") => new StubResponse { Status = status }.WithBody(body);

    public static StubResponse Redirect(string location, HttpStatusCode status = HttpStatusCode.Found)
        => new StubResponse { Status = status }.WithHeader("Location", location);

    public static StubResponse NotModified() => new() { Status = HttpStatusCode.NotModified, ContentType = null };

    public static StubResponse Throws(Exception exception) => new() { Exception = exception };

    public static StubResponse Json(string json) => new StubResponse().WithBody(json).WithContentType("application/json");

    public StubResponse WithBody(string body)
    {
        Body = Encoding.UTF8.GetBytes(body);
        BodyStream = null;
        return this;
    }

    public StubResponse WithBody(byte[] body)
    {
        Body = body;
        BodyStream = null;
        return this;
    }

    /// <summary>Answers with a stream body (created anew for every call).</summary>
    public StubResponse WithStream(Func<Stream> stream, long? contentLength = null)
    {
        BodyStream = stream;
        ContentLength = contentLength;
        return this;
    }

    public StubResponse WithContentType(string? contentType)
    {
        ContentType = contentType;
        return this;
    }

    /// <summary>Adds a header; content headers (Content-*, Expires, Last-Modified) go to the content.</summary>
    public StubResponse WithHeader(string name, string value)
    {
        _headers.Add(new KeyValuePair<string, string>(name, value));
        return this;
    }

    public StubResponse WithDelay(TimeSpan delay)
    {
        Delay = delay;
        return this;
    }

    public StubResponse WaitingFor(Task gate)
    {
        Gate = gate;
        return this;
    }
}
