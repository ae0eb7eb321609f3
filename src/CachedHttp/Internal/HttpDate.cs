using System.Globalization;

namespace CachedHttp;

/// <summary>HTTP-date parsing (RFC 9110 §5.6.7), including the obsolete RFC 850 and asctime forms.</summary>
internal static class HttpDate
{
    private static readonly string[] Formats =
    [
        "r", // IMF-fixdate
        "dddd, dd'-'MMM'-'yy HH':'mm':'ss 'GMT'", // RFC 850
        "ddd MMM d HH':'mm':'ss yyyy", // asctime
        "ddd MMM dd HH':'mm':'ss yyyy",
        "ddd, d MMM yyyy HH':'mm':'ss 'GMT'",
        "ddd, dd MMM yyyy HH':'mm':'ss 'UTC'",
    ];

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var trimmed = text.Trim();
        return DateTimeOffset.TryParseExact(trimmed, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowInnerWhite, out value);
    }

    public static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);
}
