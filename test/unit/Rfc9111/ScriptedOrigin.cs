using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>An in-process origin for handler tests: answers each request with a script and records what the cache sent.</summary>
internal sealed class ScriptedOrigin : HttpMessageHandler
{
    private readonly Func<HttpRequestMessage, int, Task<HttpResponseMessage>> _script;
    private int _calls;

    public ScriptedOrigin(Func<HttpRequestMessage, int, Task<HttpResponseMessage>> script) => _script = script;

    public ScriptedOrigin(Func<HttpRequestMessage, int, HttpResponseMessage> script)
        : this((r, n) => Task.FromResult(script(r, n)))
    {
    }

    public ConcurrentQueue<(string Method, string Url, Dictionary<string, string> Headers)> Requests { get; } = new();

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>A response with the given fields (spec as in <see cref="Rfc.Fields"/>, "@N" relative to the fake clock).</summary>
    public static HttpResponseMessage Reply(FakeTimeProvider time, int status, string? spec, string body = "body")
    {
        var response = new HttpResponseMessage((HttpStatusCode)status) { Content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(body)) };
        foreach (var (name, value) in Rfc.Fields(spec))
        {
            var text = value;
            if (value.StartsWith('@') && int.TryParse(value[1..], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var s))
            {
                text = Rfc.Date(time.GetUtcNow().AddSeconds(s));
            }

            if (!response.Headers.TryAddWithoutValidation(name, text))
            {
                response.Content.Headers.TryAddWithoutValidation(name, text);
            }
        }

        return response;
    }

    public string? Header(int index, string name)
        => Requests.ElementAt(index).Headers.TryGetValue(name, out var value) ? value : null;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.NonValidated.ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue((request.Method.Method, request.RequestUri!.ToString(), headers));
        var call = Interlocked.Increment(ref _calls) - 1;
        var response = await _script(request, call).ConfigureAwait(false);
        response.RequestMessage = request;
        return response;
    }
}
