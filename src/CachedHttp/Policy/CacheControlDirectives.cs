using System.Globalization;

namespace CachedHttp.Policy;

/// <summary>
/// Parsed Cache-Control directives (RFC 9111 §5.2). Parsing never throws. Directive names are case-insensitive;
/// unknown directives are ignored (§5.2.3); quoted values are unquoted; when a directive appears more than once, the
/// first occurrence wins (§4.2.1 allows "first occurrence" or "stale"); an invalid delta-seconds value counts as zero,
/// so the response is stale (§4.2.1: "consider responses that have invalid freshness information to be stale"); a value
/// too large saturates at 2^31 seconds (§1.2.2). A malformed directive (whitespace around <c>=</c>, an unterminated
/// quoted string, a name that is not a token) is ignored as a whole.
/// </summary>
internal sealed class CacheControlDirectives
{
    /// <summary>2^31 seconds: the largest delta-seconds a cache must handle (§1.2.2).</summary>
    public static readonly TimeSpan MaxDeltaSeconds = TimeSpan.FromSeconds(2147483648L);

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

    /// <summary>Gets a value indicating whether no well-formed directive was found.</summary>
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
            result.IsEmpty = false;
            if (!seen.Add(name))
            {
                continue; // §4.2.1: the first occurrence of a duplicated directive is used.
            }

            switch (name.ToLowerInvariant())
            {
                case "max-age": result.MaxAge = Seconds(argument); break;
                case "s-maxage": result.SharedMaxAge = Seconds(argument); break;
                case "max-stale": result.MaxStale = argument is null ? TimeSpan.MaxValue : Seconds(argument); break;
                case "min-fresh": result.MinFresh = Seconds(argument); break;
                case "stale-while-revalidate": result.StaleWhileRevalidate = Seconds(argument); break;
                case "stale-if-error": result.StaleIfError = Seconds(argument); break;
                case "no-cache": result.NoCache = true; break; // §5.2.2.4: a qualified no-cache is treated as unqualified (stricter, allowed).
                case "no-store": result.NoStore = true; break;
                case "only-if-cached": result.OnlyIfCached = true; break;
                case "must-revalidate": result.MustRevalidate = true; break;
                case "proxy-revalidate": result.ProxyRevalidate = true; break;
                case "public": result.Public = true; break;
                case "private": result.Private = true; break; // §5.2.2.7: binds shared caches only; field names irrelevant here.
                case "immutable": result.Immutable = true; break;
                case "no-transform": result.NoTransform = true; break;
                case "must-understand": result.MustUnderstand = true; break;
                default: break; // §5.2.3: unknown directives are ignored.
            }
        }

        return result;
    }

    /// <summary>delta-seconds (§1.2.2): digits only; too large saturates at 2^31; anything else is zero (stale).</summary>
    private static TimeSpan Seconds(string? argument)
    {
        if (string.IsNullOrEmpty(argument) || !argument.All(char.IsAsciiDigit))
        {
            return TimeSpan.Zero;
        }

        return long.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 2147483648L
            ? TimeSpan.FromSeconds(seconds)
            : MaxDeltaSeconds;
    }

    private static bool IsWhitespace(char c) => c is ' ' or '\t';

    /// <summary>
    /// Splits <c>#cache-directive</c> (§5.2: <c>token [ "=" ( token / quoted-string ) ]</c>) into well-formed
    /// directives; a malformed element is skipped up to the next comma outside a quoted string.
    /// </summary>
    private static IEnumerable<(string Name, string? Argument)> Tokenize(string value)
    {
        var i = 0;
        while (i < value.Length)
        {
            while (i < value.Length && (value[i] == ',' || IsWhitespace(value[i])))
            {
                i++;
            }

            if (i >= value.Length)
            {
                yield break;
            }

            var start = i;
            while (i < value.Length && CacheOptions.IsTokenChar(value[i]))
            {
                i++;
            }

            var name = value[start..i];
            string? argument = null;
            var wellFormed = name.Length > 0;
            if (wellFormed && i < value.Length && value[i] == '=')
            {
                i++;
                if (i < value.Length && value[i] == '"')
                {
                    (argument, i, wellFormed) = ReadQuoted(value, i);
                }
                else
                {
                    var argumentStart = i;
                    while (i < value.Length && CacheOptions.IsTokenChar(value[i]))
                    {
                        i++;
                    }

                    argument = value[argumentStart..i];
                }
            }

            // After the directive only optional whitespace and then a comma (or the end) may follow.
            while (i < value.Length && IsWhitespace(value[i]))
            {
                i++;
            }

            if (i < value.Length && value[i] != ',')
            {
                wellFormed = false;
                i = SkipElement(value, i);
            }

            if (wellFormed)
            {
                yield return (name, argument);
            }
        }
    }

    private static (string? Value, int Next, bool WellFormed) ReadQuoted(string value, int i)
    {
        var builder = new System.Text.StringBuilder();
        i++; // opening quote
        while (i < value.Length)
        {
            var c = value[i];
            if (c == '"')
            {
                return (builder.ToString(), i + 1, true);
            }

            if (c == '\\' && i + 1 < value.Length)
            {
                i++;
                c = value[i];
            }

            builder.Append(c);
            i++;
        }

        return (null, i, false); // unterminated
    }

    /// <summary>Skips to the next comma that is not inside a quoted string.</summary>
    private static int SkipElement(string value, int i)
    {
        var quoted = false;
        while (i < value.Length)
        {
            var c = value[i];
            if (quoted && c == '\\')
            {
                i += 2;
                continue;
            }

            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                return i;
            }

            i++;
        }

        return i;
    }
}
