using System.Text.RegularExpressions;

namespace CachedHttp.Policy;

/// <summary>Glob URL patterns of <see cref="CacheOptions.UrlsExpireAfter"/>: compared without scheme, matched as a prefix.</summary>
internal static class UrlPatterns
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> Cache = new(StringComparer.Ordinal);

    public static Expiration? Match(IDictionary<string, Expiration> patterns, Uri url)
    {
        if (patterns.Count == 0)
        {
            return null;
        }

        var target = WithoutScheme(url.AbsoluteUri);
        foreach (var pair in patterns)
        {
            if (IsMatch(pair.Key, target))
            {
                return pair.Value;
            }
        }

        return null;
    }

    public static bool IsMatch(string pattern, string urlWithoutScheme)
    {
        if (pattern.Length == 0)
        {
            return true;
        }

        var regex = Cache.GetOrAdd(pattern, static p =>
        {
            var body = Regex.Escape(WithoutScheme(p)).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal);
            return new Regex("^" + body, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        });
        return regex.IsMatch(urlWithoutScheme);
    }

    public static string WithoutScheme(string url)
    {
        var index = url.IndexOf("://", StringComparison.Ordinal);
        return index >= 0 ? url[(index + 3)..] : url;
    }
}
