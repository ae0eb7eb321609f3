using System.Globalization;
using System.Text.RegularExpressions;

namespace CachedHttp.Policy;

/// <summary>
/// The three HTTP-date forms of RFC 9110 §5.6.7 exactly (names compared without case, for robustness). Used for Expires,
/// where RFC 9111 §5.3 asks that any other format be taken as a time in the past.
/// </summary>
internal static partial class StrictHttpDate
{
    private static readonly string[] Months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

    /// <summary>Parses an HTTP-date.</summary>
    /// <param name="text">The field value.</param>
    /// <param name="reference">"Now" for the two-digit years of the RFC 850 form; without it they are read as 20xx.</param>
    /// <param name="value">The instant.</param>
    public static bool TryParse(string? text, DateTimeOffset? reference, out DateTimeOffset value)
    {
        value = default;
        if (text is null)
        {
            return false;
        }

        var trimmed = text.Trim(' ', '\t');
        if (ImfFixdate().Match(trimmed) is { Success: true } imf)
        {
            return TryCreate(imf, int.Parse(imf.Groups["year"].ValueSpan, CultureInfo.InvariantCulture), out value);
        }

        if (Rfc850().Match(trimmed) is { Success: true } rfc850)
        {
            // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is the most recent such year in the past.
            var year = 2000 + int.Parse(rfc850.Groups["year"].ValueSpan, CultureInfo.InvariantCulture);
            if (reference is { } now && year > now.Year + 50)
            {
                year -= 100;
            }

            return TryCreate(rfc850, year, out value);
        }

        if (Asctime().Match(trimmed) is { Success: true } asctime)
        {
            return TryCreate(asctime, int.Parse(asctime.Groups["year"].ValueSpan, CultureInfo.InvariantCulture), out value);
        }

        return false;
    }

    private static bool TryCreate(Match match, int year, out DateTimeOffset value)
    {
        value = default;
        var month = Array.IndexOf(Months, match.Groups["month"].Value.ToLowerInvariant()) + 1;
        var day = int.Parse(match.Groups["day"].ValueSpan.Trim(), CultureInfo.InvariantCulture);
        var hour = int.Parse(match.Groups["hour"].ValueSpan, CultureInfo.InvariantCulture);
        var minute = int.Parse(match.Groups["minute"].ValueSpan, CultureInfo.InvariantCulture);
        var second = int.Parse(match.Groups["second"].ValueSpan, CultureInfo.InvariantCulture);
        if (month < 1 || year < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        // A leap second (60) is read as the last second of its minute.
        value = new DateTimeOffset(year, month, day, hour, minute, Math.Min(second, 59), TimeSpan.Zero);
        return true;
    }

    [GeneratedRegex(@"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\d{2}) (?<month>[A-Za-z]{3}) (?<year>\d{4}) (?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2}) GMT$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ImfFixdate();

    [GeneratedRegex(@"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?<day>\d{2})-(?<month>[A-Za-z]{3})-(?<year>\d{2}) (?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2}) GMT$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Rfc850();

    [GeneratedRegex(@"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?<month>[A-Za-z]{3}) (?<day>\d{2}| \d) (?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2}) (?<year>\d{4})$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Asctime();
}
