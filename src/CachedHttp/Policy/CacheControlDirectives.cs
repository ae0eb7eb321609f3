using System.Globalization;

namespace CachedHttp.Policy;

/// <summary>
/// Parsed Cache-Control directives (RFC 9111 §5.2). Parsing never throws: unknown directives are ignored,
/// quoted values are unquoted, the first occurrence of a duplicated directive wins, and an invalid delta-seconds
/// value of a freshness directive counts as zero (stale), as §4.2.1 and §1.2.2 allow.
/// </summary>
internal sealed class CacheControlDirectives
{
    public static readonly CacheControlDirectives None = new();

    public TimeSpan? MaxAge { get; private set; }

    public TimeSpan? SharedMaxAge { get; private set; }

    /// <summary>Request max-stale: <see cref="TimeSpan.MaxValue"/> when given without a value.</summary>
    public TimeSpan? MaxStale { get; private set; }

    public TimeSpan? MinFresh { get; private set; }

    public TimeSpan? StaleWhileRevalidate { get; private set; }

    public TimeSpan? StaleIfError { get; private set; }

    public bool NoCache { get; private set; }

    public bool NoStore { get; private set; }

    public bool OnlyIfCached { get; private set; }

    public bool MustRevalidate { get; private set; }

    public bool ProxyRevalidate { get; private set; }

    public bool Public { get; private set; }

    public bool Private { get; private set; }

    public bool Immutable { get; private set; }

    public bool NoTransform { get; private set; }

    public bool MustUnderstand { get; private set; }

    public bool IsEmpty { get; private set; } = true;

    public static CacheControlDirectives Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return None;
        }

        var result = new CacheControlDirectives();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, argument) in Tokenize(value))
        {
            if (!seen.Add(name))
            {
                continue;
            }

            result.IsEmpty = false;
            switch (name.ToLowerInvariant())
            {
                case "max-age": result.MaxAge = Seconds(argument); break;
                case "s-maxage": result.SharedMaxAge = Seconds(argument); break;
                case "max-stale": result.MaxStale = argument is null ? TimeSpan.MaxValue : Seconds(argument); break;
                case "min-fresh": result.MinFresh = Seconds(argument); break;
                case "stale-while-revalidate": result.StaleWhileRevalidate = Seconds(argument); break;
                case "stale-if-error": result.StaleIfError = Seconds(argument); break;
                case "no-cache": result.NoCache = true; break; // §5.2.2.4: a qualified no-cache is treated as unqualified.
                case "no-store": result.NoStore = true; break;
                case "only-if-cached": result.OnlyIfCached = true; break;
                case "must-revalidate": result.MustRevalidate = true; break;
                case "proxy-revalidate": result.ProxyRevalidate = true; break;
                case "public": result.Public = true; break;
                case "private": result.Private = true; break;
                case "immutable": result.Immutable = true; break;
                case "no-transform": result.NoTransform = true; break;
                case "must-understand": result.MustUnderstand = true; break;
                default: break; // §5.2.3: unknown directives are ignored.
            }
        }

        return result;
    }

    /// <summary>delta-seconds (§1.2.2): digits only; too large saturates at 2^31; anything else is zero.</summary>
    private static TimeSpan Seconds(string? argument)
    {
        if (string.IsNullOrEmpty(argument) || !argument.All(char.IsAsciiDigit))
        {
            return TimeSpan.Zero;
        }

        return long.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 2147483648L
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(2147483648L);
    }

    private static IEnumerable<(string Name, string? Argument)> Tokenize(string value)
    {
        var i = 0;
        while (i < value.Length)
        {
            while (i < value.Length && (value[i] == ',' || char.IsWhiteSpace(value[i])))
            {
                i++;
            }

            var start = i;
            while (i < value.Length && value[i] != '=' && value[i] != ',')
            {
                i++;
            }

            var name = value[start..i].Trim();
            string? argument = null;
            if (i < value.Length && value[i] == '=')
            {
                i++;
                while (i < value.Length && char.IsWhiteSpace(value[i]))
                {
                    i++;
                }

                if (i < value.Length && value[i] == '"')
                {
                    i++;
                    var builder = new System.Text.StringBuilder();
                    while (i < value.Length && value[i] != '"')
                    {
                        if (value[i] == '\\' && i + 1 < value.Length)
                        {
                            i++;
                        }

                        builder.Append(value[i]);
                        i++;
                    }

                    i++; // closing quote
                    argument = builder.ToString();
                    while (i < value.Length && value[i] != ',')
                    {
                        i++;
                    }
                }
                else
                {
                    var argumentStart = i;
                    while (i < value.Length && value[i] != ',')
                    {
                        i++;
                    }

                    argument = value[argumentStart..i].Trim();
                }
            }

            if (name.Length > 0 && name.All(CacheOptions.IsTokenChar))
            {
                yield return (name, argument);
            }
        }
    }
}
