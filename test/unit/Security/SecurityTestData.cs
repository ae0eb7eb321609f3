using System.Net;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Internal;

namespace CachedHttp.Tests.Unit.Security;

/// <summary>Sample entries, keys and serializers shared by the security tests.</summary>
internal static class SecurityTestData
{
    public const string Key = "5b1f0c3a9d2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

    /// <summary>A version 1 response entry written by the serializer before version 2 (commit 26db501), Base64.</summary>
    public const string Version1Response =
        "Q0hDAQAAMgMAAHsiTWV0aG9kIjoiR0VUIiwiVXJsIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9hcGkvaXRlbXM/cGFnZT0yIiwiU3RhdHVzIjoyMDAsIlJlYXNvbiI6Ik9LIiwiVmVyc2lvbiI6IjEuMSIsIkhlYWRlcnMiOlt7Im4iOiJFVGFnIiwidiI6WyJcdTAwMjJ2MVx1MDAyMiJdfSx7Im4iOiJTZXQtQ29va2llIiwidiI6WyJhPTE7IHBhdGg9LyIsImI9MjsgcGF0aD0vIl19LHsibiI6IlZhcnkiLCJ2IjpbIkFjY2VwdC1MYW5ndWFnZSJdfV0sIkNvbnRlbnRIZWFkZXJzIjpbeyJuIjoiQ29udGVudC1UeXBlIiwidiI6WyJhcHBsaWNhdGlvbi9qc29uOyBjaGFyc2V0PXV0Zi04Il19LHsibiI6IkNvbnRlbnQtTGVuZ3RoIiwidiI6WyIyNyJdfV0sIlJlcXVlc3RIZWFkZXJzIjpbeyJuIjoiQWNjZXB0IiwidiI6WyJhcHBsaWNhdGlvbi9qc29uIl19LHsibiI6IkF1dGhvcml6YXRpb24iLCJ2IjpbIlJFREFDVEVEIl19XSwiUmVxdWVzdFRpbWUiOiIyMDI1LTAxLTAyVDAzOjA0OjA1KzAwOjAwIiwiQ3JlYXRlZEF0IjoiMjAyNS0wMS0wMlQwMzowNDowNiswMDowMCIsIkV4cGlyZXNBdCI6IjIwMjUtMDEtMDNUMDM6MDQ6MDYrMDA6MDAiLCJIaXN0b3J5IjpbeyJNZXRob2QiOiJHRVQiLCJVcmwiOiJodHRwczovL2V4YW1wbGUuY29tL29sZCIsIlN0YXR1cyI6MzAxLCJTZXRDb29raWUiOlsiYz0zOyBwYXRoPS8iXX1dLCJWYXJ5IjpbeyJuIjoiYWNjZXB0LWxhbmd1YWdlIiwidiI6WyJlbi11cyJdfV0sIkFsaWFzZXMiOlsiMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZiJdLCJCb2R5U2l6ZSI6Mjd9eyJpdGVtcyI6WzEsMiwzXSwib2siOnRydWV9";

    /// <summary>A version 1 Vary index written by the serializer before version 2 (commit 26db501), Base64.</summary>
    public const string Version1VaryIndex =
        "Q0hDAQABXgAAAHsiTmFtZXMiOlsiYWNjZXB0LWxhbmd1YWdlIl0sIlZhcmlhbnRzIjpbImFhIiwiYmIiXSwiRGVsZXRlQWZ0ZXIiOiIyMDI1LTAxLTEwVDAwOjAwOjAwKzAwOjAwIn0=";

    public static readonly DateTimeOffset Created = new(2025, 1, 2, 3, 4, 6, TimeSpan.Zero);

    public static byte[] NewKey(int length = 32, int seed = 1)
    {
        var key = new byte[length];
        new Random(seed).NextBytes(key);
        return key;
    }

    public static CacheOptions Options(
        bool sign = false,
        bool encrypt = false,
        CacheCompression compression = CacheCompression.None,
        int threshold = 1024)
    {
        var options = new CacheOptions();
        options.Serializer.Compression = compression;
        options.Serializer.CompressionThreshold = threshold;
        if (sign)
        {
            options.Serializer.SigningKeys.Add(NewKey(32, 11));
        }

        if (encrypt)
        {
            options.Serializer.EncryptionKeys.Add(NewKey(32, 21));
        }

        options.Validate();
        return options;
    }

    public static EntrySerializer Serializer(bool sign = false, bool encrypt = false, CacheCompression compression = CacheCompression.None)
        => new(Options(sign, encrypt, compression));

    /// <summary>The version 1 response, as <see cref="Version1Response"/> decodes.</summary>
    public static CachedResponse Version1Expected() => new()
    {
        Method = "GET",
        Url = new Uri("https://example.com/api/items?page=2"),
        StatusCode = HttpStatusCode.OK,
        ReasonPhrase = "OK",
        Version = HttpVersion.Version11,
        Headers = new CachedHeaders([new("ETag", ["\"v1\""]), new("Set-Cookie", ["a=1; path=/", "b=2; path=/"]), new("Vary", ["Accept-Language"])]),
        ContentHeaders = new CachedHeaders([new("Content-Type", ["application/json; charset=utf-8"]), new("Content-Length", ["27"])]),
        RequestHeaders = new CachedHeaders([new("Accept", ["application/json"]), new("Authorization", ["REDACTED"])]),
        Body = "{\"items\":[1,2,3],\"ok\":true}"u8.ToArray(),
        RequestTime = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
        CreatedAt = Created,
        ExpiresAt = new DateTimeOffset(2025, 1, 3, 3, 4, 6, TimeSpan.Zero),
        History = [new CachedRedirect("GET", new Uri("https://example.com/old"), 301, ["c=3; path=/"])],
        VaryValues = new CachedHeaders([new("accept-language", ["en-us"])]),
        AliasKeys = ["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    };

    /// <summary>A JSON response of about <paramref name="size"/> bytes (compressible).</summary>
    public static CachedResponse Json(int size = 3000, string contentType = "application/json; charset=utf-8", string? contentEncoding = null)
    {
        var text = new StringBuilder("{\"items\":[");
        var i = 0;
        while (text.Length < size - 40)
        {
            text.Append(i == 0 ? string.Empty : ",").Append("{\"id\":").Append(i).Append(",\"name\":\"item ").Append(i).Append("\"}");
            i++;
        }

        text.Append("]}");
        var contentHeaders = new List<KeyValuePair<string, string[]>> { new("Content-Type", [contentType]) };
        if (contentEncoding is not null)
        {
            contentHeaders.Add(new("Content-Encoding", [contentEncoding]));
        }

        return Version1Expected() with
        {
            Url = new Uri("https://api.example.com/v1/items?page=3&api_key=SECRET-API-KEY-123"),
            Headers = new CachedHeaders([new("ETag", ["\"v2\""]), new("Set-Cookie", ["a=1; path=/"])]),
            VaryValues = CachedHeaders.Empty,
            ContentHeaders = new CachedHeaders(contentHeaders),
            Body = Encoding.UTF8.GetBytes(text.ToString()),
            ExpiresAt = Created.AddHours(1),
        };
    }

    public static CachedResponse Binary(int size) => Version1Expected() with
    {
        ContentHeaders = new CachedHeaders([new("Content-Type", ["application/octet-stream"])]),
        Body = RandomNumberGenerator.GetBytes(size),
    };

    /// <summary>Asserts that two responses are equal in every stored field.</summary>
    public static void ShouldEqual(this CachedResponse actual, CachedResponse expected)
    {
        actual.Method.Should().Be(expected.Method);
        actual.Url.OriginalString.Should().Be(expected.Url.OriginalString);
        actual.StatusCode.Should().Be(expected.StatusCode);
        actual.ReasonPhrase.Should().Be(expected.ReasonPhrase);
        actual.Version.Should().Be(expected.Version);
        actual.Headers.Should().BeEquivalentTo(expected.Headers, o => o.WithStrictOrdering());
        actual.ContentHeaders.Should().BeEquivalentTo(expected.ContentHeaders, o => o.WithStrictOrdering());
        actual.TrailingHeaders.Should().BeEquivalentTo(expected.TrailingHeaders, o => o.WithStrictOrdering());
        actual.RequestHeaders.Should().BeEquivalentTo(expected.RequestHeaders, o => o.WithStrictOrdering());
        actual.RequestTime.Should().Be(expected.RequestTime);
        actual.CreatedAt.Should().Be(expected.CreatedAt);
        actual.ExpiresAt.Should().Be(expected.ExpiresAt);
        actual.History.Select(h => (h.Method, h.Url.OriginalString, h.StatusCode, string.Join("|", h.SetCookie)))
            .Should().Equal(expected.History.Select(h => (h.Method, h.Url.OriginalString, h.StatusCode, string.Join("|", h.SetCookie))));
        actual.VaryValues.Should().BeEquivalentTo(expected.VaryValues, o => o.WithStrictOrdering());
        actual.AliasKeys.Should().Equal(expected.AliasKeys);
        actual.Body.ToArray().Should().Equal(expected.Body.ToArray());
    }

    public static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
