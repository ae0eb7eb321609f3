using System.Collections.Concurrent;
using System.Net;

namespace CachedHttp.Tests.Unit.Infrastructure;

/// <summary>A request as the stub received it (copied, so it outlives the message).</summary>
public sealed record RecordedRequest(HttpMethod Method, Uri Uri, IReadOnlyDictionary<string, string[]> Headers, byte[] Body, int Call)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var values) ? string.Join(", ", values) : null;
}

/// <summary>
/// The network of unit tests: an in-process handler that answers from configured responses, counts calls per URL
/// and records the requests it received. Supports <see cref="SendAsync"/> and the synchronous <see cref="Send"/>.
/// </summary>
/// <remarks>
/// It is a <see cref="DelegatingHandler"/> only so that <see cref="WithCookieContainer"/> can place a cookie-keeping
/// <see cref="SocketsHttpHandler"/> beneath it, where <see cref="CachingHandler"/> looks for the cookie container;
/// the stub never calls its inner handler, so no socket is ever opened.
/// </remarks>
public sealed class StubHandler : DelegatingHandler
{
    private readonly ConcurrentDictionary<string, Func<RecordedRequest, StubResponse>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly object _waitersLock = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private int _total;

    /// <summary>Answers URLs without a route; the default is 200 with the body <c>body of {url}</c>.</summary>
    public Func<RecordedRequest, StubResponse> Default { get; set; } = r => StubResponse.Ok("body of " + r.Uri.AbsoluteUri);

    public int TotalCalls => Volatile.Read(ref _total);

    public IReadOnlyCollection<RecordedRequest> Requests => _requests.ToArray();

    public bool IsDisposed { get; private set; }

    /// <summary>The cookie container beneath the stub (see <see cref="WithCookieContainer"/>).</summary>
    public CookieContainer? Cookies => (InnerHandler as SocketsHttpHandler)?.CookieContainer;

    public static string Normalize(string url) => new Uri(url, UriKind.Absolute).AbsoluteUri;

    public StubHandler Respond(string url, StubResponse response) => Respond(url, _ => response);

    public StubHandler Respond(string url, Func<RecordedRequest, StubResponse> responder)
    {
        _routes[Normalize(url)] = responder;
        return this;
    }

    /// <summary>Answers the given responses in order, repeating the last one.</summary>
    public StubHandler RespondInSequence(string url, params StubResponse[] responses)
        => Respond(url, r => responses[Math.Min(r.Call - 1, responses.Length - 1)]);

    /// <summary>Places a cookie-keeping <see cref="SocketsHttpHandler"/> beneath the stub (never called).</summary>
    public StubHandler WithCookieContainer()
    {
        InnerHandler = new SocketsHttpHandler { UseCookies = true, CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        return this;
    }

    public int CallCount(string url) => _calls.TryGetValue(Normalize(url), out var count) ? count : 0;

    public IReadOnlyList<RecordedRequest> RequestsTo(string url)
    {
        var target = Normalize(url);
        return _requests.Where(r => r.Uri.AbsoluteUri == target).OrderBy(r => r.Call).ToList();
    }

    /// <summary>Completes when the stub has received at least <paramref name="count"/> calls in all.</summary>
    public Task WaitForCallsAsync(int count)
    {
        lock (_waitersLock)
        {
            if (TotalCalls >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task;
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var answer = Receive(request, body);
        if (answer.Delay > TimeSpan.Zero)
        {
            await Task.Delay(answer.Delay, cancellationToken);
        }

        if (answer.Gate is { } gate)
        {
            await gate.WaitAsync(cancellationToken);
        }

        return Build(request, answer);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        byte[] body = [];
        if (request.Content is not null)
        {
            using var stream = request.Content.ReadAsStream(cancellationToken);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            body = copy.ToArray();
        }

        var answer = Receive(request, body);
        if (answer.Delay > TimeSpan.Zero)
        {
            Task.Delay(answer.Delay, cancellationToken).GetAwaiter().GetResult();
        }

        answer.Gate?.WaitAsync(cancellationToken).GetAwaiter().GetResult();
        return Build(request, answer);
    }

    protected override void Dispose(bool disposing)
    {
        IsDisposed = true;
        base.Dispose(disposing);
    }

    private StubResponse Receive(HttpRequestMessage request, byte[] body)
    {
        var url = request.RequestUri!.AbsoluteUri;
        var call = _calls.AddOrUpdate(url, 1, (_, n) => n + 1);
        var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in request.Headers.NonValidated)
        {
            headers[header.Key] = [.. header.Value];
        }

        if (request.Content is not null)
        {
            foreach (var header in request.Content.Headers.NonValidated)
            {
                headers[header.Key] = [.. header.Value];
            }
        }

        var recorded = new RecordedRequest(request.Method, request.RequestUri, headers, body, call);
        _requests.Enqueue(recorded);
        var total = Interlocked.Increment(ref _total);
        lock (_waitersLock)
        {
            foreach (var waiter in _waiters.Where(w => w.Count <= total).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult();
            }
        }

        var responder = _routes.TryGetValue(url, out var route) ? route : Default;
        return responder(recorded);
    }

    private static HttpResponseMessage Build(HttpRequestMessage request, StubResponse answer)
    {
        if (answer.Exception is { } exception)
        {
            throw exception;
        }

        HttpContent content;
        if (answer.BodyStream is { } createStream)
        {
            content = new StreamContent(createStream());
            if (answer.ContentLength is { } length)
            {
                content.Headers.ContentLength = length;
            }
        }
        else
        {
            content = new ByteArrayContent(answer.Body);
        }

        if (answer.ContentType is { } contentType)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var response = new HttpResponseMessage(answer.Status) { RequestMessage = request, Content = content };
        foreach (var header in answer.Headers)
        {
            if (!response.Headers.TryAddWithoutValidation(header.Key, header.Value))
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        return response;
    }
}
