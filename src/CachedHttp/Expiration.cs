using System.ComponentModel;
using System.Globalization;

namespace CachedHttp;

/// <summary>The kinds of <see cref="Expiration"/>.</summary>
public enum ExpirationKind
{
    /// <summary>Stored responses never expire.</summary>
    Never,

    /// <summary>Responses are neither read from nor written to the cache.</summary>
    DoNotCache,

    /// <summary>Responses are stored but are stale at once: each use revalidates them (when they have validators).</summary>
    ExpireImmediately,

    /// <summary>Responses expire a fixed time after they are stored.</summary>
    After,

    /// <summary>Responses expire at a fixed instant.</summary>
    At,
}

/// <summary>
/// How long a response stays fresh in the cache: <see cref="Never"/>, <see cref="DoNotCache"/>,
/// <see cref="ExpireImmediately"/>, a time span after storage, or an absolute instant.
/// </summary>
/// <remarks>
/// Immutable. Converts implicitly from <see cref="TimeSpan"/> and <see cref="DateTimeOffset"/>; parses the strings
/// <c>-1</c> (never), <c>0</c> (do not cache), <c>immediate</c>, a number of seconds (<c>3600</c>), a number with a
/// unit (<c>500ms</c>, <c>90s</c>, <c>15m</c>, <c>2h</c>, <c>1d</c>), an ISO 8601 instant, an HTTP-date, or a
/// <see cref="TimeSpan"/> in its invariant format (<c>00:15:00</c>). <see cref="ToString"/> gives a string that parses back.
/// </remarks>
[TypeConverter(typeof(ExpirationTypeConverter))]
public sealed class Expiration : IEquatable<Expiration>
{
    // ISO 8601 only: a lenient parse would take "1.2.3" or "May 3" (the year then comes from the system clock) as dates.
    private static readonly string[] IsoFormats =
    [
        "yyyy'-'MM'-'dd",
        "yyyy'-'MM'-'dd'T'HH':'mmK",
        "yyyy'-'MM'-'dd'T'HH':'mm':'ssK",
        "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFK",
        "yyyy'-'MM'-'dd' 'HH':'mm':'ssK",
        "yyyy'-'MM'-'dd' 'HH':'mm':'ss.FFFFFFFK",
    ];

    private Expiration(ExpirationKind kind, TimeSpan timeSpan = default, DateTimeOffset instant = default)
    {
        Kind = kind;
        TimeSpan = timeSpan;
        Instant = instant;
    }

    /// <summary>Gets the expiration under which stored responses never expire.</summary>
    public static Expiration Never { get; } = new(ExpirationKind.Never);

    /// <summary>Gets the expiration under which responses are neither read from nor written to the cache.</summary>
    public static Expiration DoNotCache { get; } = new(ExpirationKind.DoNotCache);

    /// <summary>Gets the expiration under which responses are stored but stale at once, so that each use revalidates them.</summary>
    public static Expiration ExpireImmediately { get; } = new(ExpirationKind.ExpireImmediately);

    /// <summary>Gets the kind of this expiration.</summary>
    public ExpirationKind Kind { get; }

    /// <summary>Gets the time span of an <see cref="ExpirationKind.After"/> expiration; zero otherwise.</summary>
    public TimeSpan TimeSpan { get; }

    /// <summary>Gets the instant of an <see cref="ExpirationKind.At"/> expiration (UTC); default otherwise.</summary>
    public DateTimeOffset Instant { get; }

    /// <summary>Creates an expiration a fixed time after storage.</summary>
    /// <param name="timeSpan">The time; zero means <see cref="ExpireImmediately"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeSpan"/> is negative.</exception>
    public static Expiration After(TimeSpan timeSpan)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeSpan, TimeSpan.Zero);
        return timeSpan == TimeSpan.Zero ? ExpireImmediately : new Expiration(ExpirationKind.After, timeSpan);
    }

    /// <summary>Creates an expiration at a fixed instant.</summary>
    public static Expiration At(DateTimeOffset instant) => new(ExpirationKind.At, instant: instant.ToUniversalTime());

    /// <summary>Creates an expiration from a number of seconds, as the original library does.</summary>
    /// <param name="seconds"><c>-1</c> for <see cref="Never"/>, <c>0</c> for <see cref="DoNotCache"/>, or a positive number of seconds.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="seconds"/> is below -1.</exception>
    public static Expiration FromSeconds(double seconds)
    {
        if (!IsValidSeconds(seconds))
        {
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "Expiration seconds must be -1 (never), 0 (do not cache) or positive and within the range of a TimeSpan.");
        }

        return seconds switch
        {
            -1 => Never,
            0 => DoNotCache,
            _ => After(TimeSpan.FromSeconds(seconds)),
        };
    }

    /// <summary>Converts a time span with <see cref="After(TimeSpan)"/>.</summary>
    public static implicit operator Expiration(TimeSpan timeSpan) => After(timeSpan);

    /// <summary>Converts an instant with <see cref="At(DateTimeOffset)"/>.</summary>
    public static implicit operator Expiration(DateTimeOffset instant) => At(instant);

    /// <summary>Parses an expiration string (see the type's remarks for the accepted forms).</summary>
    /// <exception cref="FormatException"><paramref name="value"/> is not an expiration.</exception>
    public static Expiration Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out var expiration)
            ? expiration
            : throw new FormatException($"'{value}' is not an expiration: use -1 (never), 0 (do not cache), 'immediate', seconds such as 3600, a duration such as 90s, 15m, 2h or 1d, or a date.");
    }

    /// <summary>Tries to parse an expiration string (see the type's remarks for the accepted forms).</summary>
    public static bool TryParse(string? value, out Expiration expiration)
    {
        expiration = Never;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var text = value.Trim();
        if (text.Equals("immediate", StringComparison.OrdinalIgnoreCase))
        {
            expiration = ExpireImmediately;
            return true;
        }

        if (text.Equals("never", StringComparison.OrdinalIgnoreCase))
        {
            expiration = Never;
            return true;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (!IsValidSeconds(seconds))
            {
                return false;
            }

            expiration = FromSeconds(seconds);
            return true;
        }

        if (TryParseDuration(text, out var span))
        {
            expiration = After(span);
            return true;
        }

        if (text.Contains(':', StringComparison.Ordinal) && !text.Contains('T', StringComparison.Ordinal) && !text.Contains(',', StringComparison.Ordinal)
            && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out span) && span >= TimeSpan.Zero)
        {
            expiration = After(span);
            return true;
        }

        // HTTP-date (RFC 9110 §5.6.7) first, then ISO 8601.
        if (DateTimeOffset.TryParseExact(text, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant)
            || DateTimeOffset.TryParseExact(text, IsoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out instant))
        {
            expiration = At(instant);
            return true;
        }

        return false;
    }

    /// <summary>Gets the instant at which a response stored at <paramref name="now"/> expires.</summary>
    /// <returns><see langword="null"/> for <see cref="Never"/> (and for <see cref="DoNotCache"/>, which stores nothing).</returns>
    public DateTimeOffset? GetExpiresAt(DateTimeOffset now) => Kind switch
    {
        ExpirationKind.ExpireImmediately => now,
        ExpirationKind.After => now + TimeSpan,
        ExpirationKind.At => Instant,
        _ => null,
    };

    /// <summary>Gives a string that <see cref="Parse"/> turns back into an equal expiration.</summary>
    public override string ToString() => Kind switch
    {
        ExpirationKind.Never => "-1",
        ExpirationKind.DoNotCache => "0",
        ExpirationKind.ExpireImmediately => "immediate",
        ExpirationKind.After => FormatDuration(TimeSpan),
        _ => Instant.ToString("O", CultureInfo.InvariantCulture),
    };

    /// <inheritdoc />
    public bool Equals(Expiration? other)
        => other is not null && Kind == other.Kind && TimeSpan == other.TimeSpan && Instant == other.Instant;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Expiration);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, TimeSpan, Instant);

    /// <summary>Compares two expirations for equality.</summary>
    public static bool operator ==(Expiration? left, Expiration? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two expirations for inequality.</summary>
    public static bool operator !=(Expiration? left, Expiration? right) => !(left == right);

    // -1, 0, or a positive number of seconds that a TimeSpan can hold (beyond it, TimeSpan.FromSeconds overflows).
    private static bool IsValidSeconds(double seconds)
        => double.IsFinite(seconds) && (seconds >= 0 || seconds == -1) && seconds < TimeSpan.MaxValue.TotalSeconds;

    private static bool TryParseDuration(string text, out TimeSpan span)
    {
        span = default;
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
        {
            unitStart--;
        }

        if (unitStart == text.Length || unitStart == 0
            || !double.TryParse(text.AsSpan(0, unitStart), NumberStyles.Float, CultureInfo.InvariantCulture, out var amount)
            || amount < 0 || double.IsInfinity(amount) || double.IsNaN(amount))
        {
            return false;
        }

        var unit = text[unitStart..].ToLowerInvariant();
        double? milliseconds = unit switch
        {
            "ms" => amount,
            "s" or "sec" or "secs" or "second" or "seconds" => amount * 1000,
            "m" or "min" or "mins" or "minute" or "minutes" => amount * 60_000,
            "h" or "hr" or "hrs" or "hour" or "hours" => amount * 3_600_000,
            "d" or "day" or "days" => amount * 86_400_000,
            "w" or "week" or "weeks" => amount * 604_800_000,
            _ => null,
        };
        if (milliseconds is null || milliseconds > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        span = TimeSpan.FromMilliseconds(milliseconds.Value);
        return true;
    }

    private static string FormatDuration(TimeSpan span)
    {
        if (span.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            return span.ToString("c", CultureInfo.InvariantCulture);
        }

        var ms = (long)span.TotalMilliseconds;
        return ms switch
        {
            _ when ms % 86_400_000 == 0 => $"{ms / 86_400_000}d",
            _ when ms % 3_600_000 == 0 => $"{ms / 3_600_000}h",
            _ when ms % 60_000 == 0 => $"{ms / 60_000}m",
            _ when ms % 1000 == 0 => $"{ms / 1000}s",
            _ => $"{ms}ms",
        };
    }
}

/// <summary>Converts strings to <see cref="Expiration"/> for configuration binding.</summary>
public sealed class ExpirationTypeConverter : TypeConverter
{
    /// <inheritdoc />
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
        => sourceType == typeof(string) || sourceType == typeof(TimeSpan) || base.CanConvertFrom(context, sourceType);

    /// <inheritdoc />
    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) => value switch
    {
        string text => Expiration.Parse(text),
        TimeSpan span => Expiration.After(span),
        _ => base.ConvertFrom(context, culture, value),
    };

    /// <inheritdoc />
    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
        => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    /// <inheritdoc />
    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => destinationType == typeof(string) && value is Expiration expiration ? expiration.ToString() : base.ConvertTo(context, culture, value, destinationType);
}
