using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Testing;
using Microsoft.AspNetCore.Http;

namespace CachedHttp.Tests.Integration.Security;

/// <summary>
/// The credential-safety proof, reusable by every backend's tests: two users with two tokens get two origin requests
/// and two entries, each user is then served its own response from the cache, and no raw byte of the backend's storage
/// (keys and values of both stores, plus whatever else the backend writes) contains a token or the API key.
/// </summary>
public static class CredentialSafety
{
    /// <summary>A path this helper maps on the origin: answers per user, without echoing any secret.</summary>
    public const string ProfilePath = "/security/profile";

    /// <summary>Runs the proof against <c>/security/profile</c>, whose body names the user by a digest, not by a secret.</summary>
    /// <param name="backend">The backend under test (any options except <see cref="CacheOptions.ShareAcrossCredentials"/>).</param>
    /// <param name="origin">The test origin.</param>
    /// <param name="rawStorage">More raw bytes to search after the requests (for example every file a file backend wrote).</param>
    public static Task AssertIsolatedAndNeverStoredAsync(CacheBackend backend, TestOrigin origin, Func<IEnumerable<byte[]>>? rawStorage = null)
    {
        ArgumentNullException.ThrowIfNull(origin);
        origin.Map(ProfilePath, async context =>
        {
            var token = context.Request.Headers.Authorization.ToString();
            var user = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..12];
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$"""{"user":"{{user}}","padding":"{{new string('x', 2048)}}"}""");
        });
        return RunAsync(backend, origin, ProfilePath, rawStorage, bodyEchoesSecrets: false);
    }

    /// <summary>
    /// Runs the proof against <c>/echo</c>, whose body repeats the request's headers and query — tokens included —
    /// so the raw storage is clean only because the backend encrypts entries (<see cref="CacheSerializerOptions.EncryptionKeys"/>).
    /// </summary>
    /// <param name="backend">A backend with encryption on.</param>
    /// <param name="origin">The test origin.</param>
    /// <param name="rawStorage">More raw bytes to search after the requests.</param>
    public static Task AssertEchoedSecretsEncryptedAtRestAsync(CacheBackend backend, TestOrigin origin, Func<IEnumerable<byte[]>>? rawStorage = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Assert.That(backend.Options.Serializer.EncryptionKeys, Is.Not.Empty, "the /echo body holds the tokens: only encryption keeps them out of storage");
        return RunAsync(backend, origin, "/echo", rawStorage, bodyEchoesSecrets: true);
    }

    private static async Task RunAsync(CacheBackend backend, TestOrigin origin, string path, Func<IEnumerable<byte[]>>? rawStorage, bool bodyEchoesSecrets)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var run = Guid.NewGuid().ToString("N");
        var tokenA = "tokA" + run;
        var tokenB = "tokB" + run;
        var apiKey = "key" + run[..16];
        var cookie = "sid" + run[16..];
        var secrets = new[] { tokenA, tokenB, apiKey, cookie };
        using var handler = new CachingHandler(backend);
        using var client = new HttpClient(handler, disposeHandler: false) { BaseAddress = origin.BaseAddress };
        var url = $"{path}?page=1&api_key={apiKey}&run={run}";

        async Task<(string Body, bool FromCache)> GetAsync(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.TryAddWithoutValidation("Cookie", "session=" + cookie);
            using var response = await client.SendAsync(request);
            response.EnsureSuccessStatusCode();
            Assert.That(response.RequestMessage!.RequestUri!.Query, Does.Contain(apiKey), "the caller sees its own URL");
            return (await response.Content.ReadAsStringAsync(), response.IsFromCache());
        }

        var before = origin.RecordedRequests.Count(r => r.Query.Contains(run, StringComparison.Ordinal));
        var entriesBefore = await CountResponsesAsync(backend);

        var a1 = await GetAsync(tokenA);
        var b1 = await GetAsync(tokenB);
        var a2 = await GetAsync(tokenA);
        var b2 = await GetAsync(tokenB);

        Assert.Multiple(() =>
        {
            Assert.That(origin.RecordedRequests.Count(r => r.Query.Contains(run, StringComparison.Ordinal)) - before, Is.EqualTo(2), "two tokens → two origin requests");
            Assert.That((a1.FromCache, b1.FromCache, a2.FromCache, b2.FromCache), Is.EqualTo((false, false, true, true)));
            Assert.That(a2.Body, Is.EqualTo(a1.Body), "user A gets its own response back");
            Assert.That(b2.Body, Is.EqualTo(b1.Body), "user B gets its own response back");
            Assert.That(a1.Body, Is.Not.EqualTo(b1.Body), "the origin answers each user differently");
            if (bodyEchoesSecrets)
            {
                Assert.That(a2.Body, Does.Contain(tokenA).And.Not.Contain(tokenB));
                Assert.That(b2.Body, Does.Contain(tokenB).And.Not.Contain(tokenA));
            }
        });
        Assert.That(await CountResponsesAsync(backend) - entriesBefore, Is.EqualTo(2), "two tokens → two entries");

        await foreach (var response in backend.GetResponsesAsync())
        {
            if (!response.Url.OriginalString.Contains(run, StringComparison.Ordinal))
            {
                continue;
            }

            Assert.That(response.Url.OriginalString, Does.Contain("api_key=REDACTED"));
            Assert.That(response.RequestHeaders.GetValue("Authorization"), Is.EqualTo("REDACTED"));
            Assert.That(response.RequestHeaders.GetValue("Cookie"), Is.EqualTo("REDACTED"));
        }

        var searched = 0L;
        void Search(string where, ReadOnlySpan<byte> bytes)
        {
            searched += bytes.Length;
            foreach (var secret in secrets)
            {
                foreach (var form in new[] { secret, Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)) })
                {
                    if (bytes.IndexOf(Encoding.UTF8.GetBytes(form)) >= 0)
                    {
                        Assert.Fail($"{where} of the {backend.Name} storage contains a secret in clear ({(form == secret ? "raw" : "Base64")}).");
                    }
                }
            }
        }

        foreach (var store in new[] { backend.Responses, backend.Redirects })
        {
            await foreach (var entry in store.GetEntriesAsync())
            {
                Search("a key", Encoding.UTF8.GetBytes(entry.Key));
                Search("a value", entry.Value);
            }
        }

        foreach (var bytes in rawStorage?.Invoke() ?? [])
        {
            Search("a raw file", bytes);
        }

        Assert.That(searched, Is.GreaterThan(512), "the storage was searched");
    }

    private static async Task<long> CountResponsesAsync(CacheBackend backend)
    {
        long count = 0;
        await foreach (var unused in backend.GetResponsesAsync())
        {
            count++;
        }

        return count;
    }
}
