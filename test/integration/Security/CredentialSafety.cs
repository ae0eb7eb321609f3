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
/// <remarks>
/// <c>rawStorage</c> returns the backend's own bytes, read below the storage API (files, database pages, Redis values,
/// DynamoDB attributes, MongoDB documents). Unless the entries are encrypted, those bytes must also hold the run's
/// (non-secret) marker, which proves that the scan read the entries it clears.
/// </remarks>
public static class CredentialSafety
{
    /// <summary>A path this helper maps on the origin: answers per user, without echoing any secret.</summary>
    public const string ProfilePath = "/security/profile";

    /// <summary>A path this helper maps on the origin: redirects (302) to <see cref="ProfilePath"/> with the same query.</summary>
    public const string HopPath = "/security/hop";

    /// <summary>A secret query parameter that is not in <see cref="CacheOptions.DefaultSecretParameters"/>: pass options from <see cref="Options"/>.</summary>
    public const string CustomSecretParameter = "hmac";

    /// <summary>Options with <see cref="CustomSecretParameter"/> added to the secret parameters, for <see cref="AssertSecretParametersNeverStoredAsync"/>.</summary>
    public static CacheOptions Options()
    {
        var options = new CacheOptions();
        options.SecretParameters.Add(CustomSecretParameter);
        return options;
    }

    /// <summary>Runs the proof against <c>/security/profile</c>, whose body names the user by a digest, not by a secret.</summary>
    /// <param name="backend">The backend under test (any options except <see cref="CacheOptions.ShareAcrossCredentials"/>).</param>
    /// <param name="origin">The test origin.</param>
    /// <param name="rawStorage">More raw bytes to search after the requests (for example every file a file backend wrote).</param>
    public static Task AssertIsolatedAndNeverStoredAsync(CacheBackend backend, TestOrigin origin, Func<IAsyncEnumerable<byte[]>>? rawStorage = null)
    {
        MapProfile(origin);
        return RunAsync(backend, origin, ProfilePath, rawStorage, bodyEchoesSecrets: false);
    }

    /// <summary>
    /// Runs the proof against <c>/echo</c>, whose body repeats the request's headers and query — tokens included —
    /// so the raw storage is clean only because the backend encrypts entries (<see cref="CacheSerializerOptions.EncryptionKeys"/>).
    /// </summary>
    /// <param name="backend">A backend with encryption on.</param>
    /// <param name="origin">The test origin.</param>
    /// <param name="rawStorage">More raw bytes to search after the requests.</param>
    public static Task AssertEchoedSecretsEncryptedAtRestAsync(CacheBackend backend, TestOrigin origin, Func<IAsyncEnumerable<byte[]>>? rawStorage = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Assert.That(backend.Options.Serializer.EncryptionKeys, Is.Not.Empty, "the /echo body holds the tokens: only encryption keeps them out of storage");
        return RunAsync(backend, origin, "/echo", rawStorage, bodyEchoesSecrets: true);
    }

    /// <summary>
    /// Secret query parameters (<c>api_key</c>, <c>Access_Token</c> in another case, and <see cref="CustomSecretParameter"/>)
    /// and an <c>X-Api-Key</c> header, through a redirect: two tokens give two entries, the final URL is served from its
    /// alias, the stored URL and redirect history show the parameters <c>REDACTED</c>, and no raw byte holds a value.
    /// </summary>
    /// <param name="backend">A backend built with <see cref="Options"/>.</param>
    /// <param name="origin">The test origin.</param>
    /// <param name="rawStorage">More raw bytes to search after the requests.</param>
    public static async Task AssertSecretParametersNeverStoredAsync(CacheBackend backend, TestOrigin origin, Func<IAsyncEnumerable<byte[]>>? rawStorage = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(origin);
        Assert.That(backend.Options.SecretParameters, Does.Contain(CustomSecretParameter), "build the backend with CredentialSafety.Options()");
        Assert.That(CacheOptions.DefaultSecretParameters, Does.Not.Contain(CustomSecretParameter), "the custom name proves that configured names are honoured");
        MapProfile(origin);
        origin.Map(HopPath, context =>
        {
            context.Response.StatusCode = StatusCodes.Status302Found;
            context.Response.Headers.Location = ProfilePath + context.Request.QueryString.Value;
            return Task.CompletedTask;
        });

        var run = Guid.NewGuid().ToString("N");
        var (tokenA, tokenB) = ("tokA" + run, "tokB" + run);
        var apiKey = "key" + run[..16];
        var accessToken = "acc" + run[8..24];
        var custom = "cus" + run[16..];
        var headerKey = "hdr" + run[4..20];
        string[] secrets = [tokenA, tokenB, apiKey, accessToken, custom, headerKey];
        var query = $"?page=1&api_key={apiKey}&Access_Token={accessToken}&{CustomSecretParameter}={custom}&run={run}";
        using var handler = new CachingHandler(backend);
        using var client = new HttpClient(handler, disposeHandler: false) { BaseAddress = origin.BaseAddress };

        async Task<(string Body, bool FromCache)> GetAsync(string path, string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path + query);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.TryAddWithoutValidation("X-Api-Key", headerKey);
            using var response = await client.SendAsync(request);
            response.EnsureSuccessStatusCode();
            Assert.That(response.RequestMessage!.RequestUri!.AbsolutePath, Is.EqualTo(ProfilePath), "the redirect was followed");
            Assert.That(response.RequestMessage.RequestUri.Query, Does.Contain(apiKey).And.Contain(custom), "the caller sees its own URL");
            return (await response.Content.ReadAsStringAsync(), response.IsFromCache());
        }

        int OriginRequests() => origin.RecordedRequests.Count(r => r.Query.Contains(run, StringComparison.Ordinal));

        var a1 = await GetAsync(HopPath, tokenA);
        var b1 = await GetAsync(HopPath, tokenB);
        var a2 = await GetAsync(HopPath, tokenA);
        var b2 = await GetAsync(HopPath, tokenB);
        var aFinal = await GetAsync(ProfilePath, tokenA);

        Assert.Multiple(() =>
        {
            Assert.That(OriginRequests(), Is.EqualTo(4), "two tokens → two redirects and two final responses from the origin, then none");
            Assert.That((a1.FromCache, b1.FromCache, a2.FromCache, b2.FromCache, aFinal.FromCache), Is.EqualTo((false, false, true, true, true)));
            Assert.That(a2.Body, Is.EqualTo(a1.Body));
            Assert.That(b2.Body, Is.EqualTo(b1.Body));
            Assert.That(aFinal.Body, Is.EqualTo(a1.Body), "the final URL is served from the alias of user A's entry");
            Assert.That(a1.Body, Is.Not.EqualTo(b1.Body));
        });

        var stored = 0;
        await foreach (var response in backend.GetResponsesAsync())
        {
            if (!response.Url.OriginalString.Contains(run, StringComparison.Ordinal))
            {
                continue;
            }

            stored++;
            foreach (var url in response.History.Select(h => h.Url.OriginalString).Prepend(response.Url.OriginalString))
            {
                Assert.That(url, Does.Contain("api_key=REDACTED").And.Contain("Access_Token=REDACTED").And.Contain(CustomSecretParameter + "=REDACTED"));
            }

            Assert.That(response.History, Has.Count.EqualTo(1), "the hop is recorded");
            Assert.That(response.RequestHeaders.GetValue("X-Api-Key"), Is.EqualTo("REDACTED"));
            Assert.That(response.RequestHeaders.GetValue("Authorization"), Is.EqualTo("REDACTED"));
        }

        Assert.That(stored, Is.EqualTo(2), "two tokens → two entries");
        await AssertNotInStorageAsync(backend, secrets, run, rawStorage, expectMarkerInRaw: true);
    }

    private static void MapProfile(TestOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(origin);
        origin.Map(ProfilePath, async context =>
        {
            var token = context.Request.Headers.Authorization.ToString();
            var user = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..12];
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$"""{"user":"{{user}}","padding":"{{new string('x', 2048)}}"}""");
        });
    }

    private static async Task RunAsync(CacheBackend backend, TestOrigin origin, string path, Func<IAsyncEnumerable<byte[]>>? rawStorage, bool bodyEchoesSecrets)
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

        await AssertNotInStorageAsync(backend, secrets, run, rawStorage, expectMarkerInRaw: backend.Options.Serializer.EncryptionKeys.Count == 0);
    }

    /// <summary>Searches the keys and values of both stores, and the raw storage, for each secret (as is and in Base64).</summary>
    private static async Task AssertNotInStorageAsync(CacheBackend backend, string[] secrets, string marker, Func<IAsyncEnumerable<byte[]>>? rawStorage, bool expectMarkerInRaw)
    {
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

        Assert.That(searched, Is.GreaterThan(512), "the storage was searched");
        if (rawStorage is null)
        {
            return;
        }

        var rawSearched = 0L;
        var markerSeen = false;
        var markerBytes = Encoding.UTF8.GetBytes(marker);
        await foreach (var bytes in rawStorage())
        {
            Search("the raw storage", bytes);
            rawSearched += bytes.Length;
            markerSeen |= bytes.AsSpan().IndexOf(markerBytes) >= 0;
        }

        Assert.That(rawSearched, Is.GreaterThan(512), "the raw storage was searched");
        if (expectMarkerInRaw)
        {
            Assert.That(markerSeen, Is.True, "the raw storage holds the run's entries (their URL's non-secret marker), so the scan read them");
        }
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
