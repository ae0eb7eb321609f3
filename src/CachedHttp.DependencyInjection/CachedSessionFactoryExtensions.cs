namespace CachedHttp.DependencyInjection;

/// <summary>Shortcuts for <see cref="ICachedSessionFactory"/>.</summary>
public static class CachedSessionFactoryExtensions
{
    /// <summary>Creates a session for the unnamed client (<c>services.AddHttpClient(string.Empty).AddHttpCaching()</c>).</summary>
    /// <param name="factory">The session factory.</param>
    /// <returns>A session; see <see cref="ICachedSessionFactory.CreateSession"/>.</returns>
    public static CachedSession CreateSession(this ICachedSessionFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return factory.CreateSession(Microsoft.Extensions.Options.Options.DefaultName);
    }
}
