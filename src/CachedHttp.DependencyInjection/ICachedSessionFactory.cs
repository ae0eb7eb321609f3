namespace CachedHttp.DependencyInjection;

/// <summary>
/// Creates <see cref="CachedSession"/> instances for named <see cref="HttpClient"/>s registered with
/// <c>AddHttpClient(name).AddHttpCaching()</c>, so that code can use the session's conveniences (<c>Cache</c>,
/// <c>Disabled()</c>, per-request expirations) on a client configured the usual way.
/// </summary>
/// <remarks>
/// <para>
/// A session goes through the factory's handler pipeline for the client (<c>IHttpMessageHandlerFactory.CreateHandler(name)</c>:
/// the same handlers, the same rotation, the same singleton cache), and gets the client's configuration
/// (<c>ConfigureHttpClient</c>: <see cref="HttpClient.BaseAddress"/>, <see cref="HttpClient.Timeout"/>, default request
/// headers, …) as <see cref="System.Net.Http.IHttpClientFactory.CreateClient(string)"/> would.
/// </para>
/// <para>
/// Like a client from <c>IHttpClientFactory</c>, a session is cheap, need not be disposed, and should not be kept for
/// long: the factory rotates the handlers underneath. Disposing it never disposes the pipeline or the cache.
/// </para>
/// </remarks>
public interface ICachedSessionFactory
{
    /// <summary>Creates a session for the named client.</summary>
    /// <param name="name">The client's name (the empty string for the unnamed client; a typed client's name is its type's name).</param>
    /// <exception cref="InvalidOperationException">The client has no caching handler (<c>AddHttpCaching</c> was not called for it).</exception>
    CachedSession CreateSession(string name);
}
