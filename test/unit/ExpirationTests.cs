using System.ComponentModel;

namespace CachedHttp.Tests.Unit;

[Parallelizable(ParallelScope.All)]
public class ExpirationTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Test]
    public void Never_Always_HasKindNeverAndNoExpiry()
    {
        Expiration.Never.Kind.Should().Be(ExpirationKind.Never);
        Expiration.Never.GetExpiresAt(Now).Should().BeNull();
    }

    [Test]
    public void DoNotCache_Always_HasKindDoNotCacheAndNoExpiry()
    {
        Expiration.DoNotCache.Kind.Should().Be(ExpirationKind.DoNotCache);
        Expiration.DoNotCache.GetExpiresAt(Now).Should().BeNull();
    }

    [Test]
    public void ExpireImmediately_Always_ExpiresNow()
    {
        Expiration.ExpireImmediately.Kind.Should().Be(ExpirationKind.ExpireImmediately);
        Expiration.ExpireImmediately.GetExpiresAt(Now).Should().Be(Now);
    }

    [Test]
    public void After_PositiveSpan_ExpiresThatLongAfterStorage()
    {
        var expiration = Expiration.After(TimeSpan.FromMinutes(5));

        expiration.Kind.Should().Be(ExpirationKind.After);
        expiration.TimeSpan.Should().Be(TimeSpan.FromMinutes(5));
        expiration.GetExpiresAt(Now).Should().Be(Now.AddMinutes(5));
    }

    [Test]
    public void After_Zero_IsExpireImmediately()
    {
        Expiration.After(TimeSpan.Zero).Should().Be(Expiration.ExpireImmediately);
    }

    [Test]
    public void After_NegativeSpan_Throws()
    {
        var act = () => Expiration.After(TimeSpan.FromSeconds(-1));

        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Test]
    public void ImplicitFromTimeSpan_Negative_Throws()
    {
        var act = () =>
        {
            Expiration expiration = TimeSpan.FromTicks(-1);
            return expiration;
        };

        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Test]
    public void At_InstantWithOffset_IsStoredInUtc()
    {
        var local = new DateTimeOffset(2030, 6, 1, 14, 0, 0, TimeSpan.FromHours(2));

        var expiration = Expiration.At(local);

        expiration.Kind.Should().Be(ExpirationKind.At);
        expiration.Instant.Offset.Should().Be(TimeSpan.Zero);
        expiration.Instant.UtcDateTime.Should().Be(new DateTime(2030, 6, 1, 12, 0, 0, DateTimeKind.Utc));
        expiration.GetExpiresAt(Now).Should().Be(local);
    }

    [Test]
    public void FromSeconds_MinusOne_IsNever() => Expiration.FromSeconds(-1).Should().BeSameAs(Expiration.Never);

    [Test]
    public void FromSeconds_Zero_IsDoNotCache() => Expiration.FromSeconds(0).Should().BeSameAs(Expiration.DoNotCache);

    [TestCase(1)]
    [TestCase(3600)]
    [TestCase(0.5)]
    public void FromSeconds_Positive_ExpiresAfterThatManySeconds(double seconds)
    {
        var expiration = Expiration.FromSeconds(seconds);

        expiration.Kind.Should().Be(ExpirationKind.After);
        expiration.GetExpiresAt(Now).Should().Be(Now + TimeSpan.FromSeconds(seconds));
    }

    [TestCase(-2)]
    [TestCase(-0.5)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void FromSeconds_Invalid_Throws(double seconds)
    {
        var act = () => Expiration.FromSeconds(seconds);

        act.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("seconds");
    }

    [Test]
    public void ImplicitFromTimeSpan_Positive_IsAfter()
    {
        Expiration expiration = TimeSpan.FromHours(2);

        expiration.Should().Be(Expiration.After(TimeSpan.FromHours(2)));
    }

    [Test]
    public void ImplicitFromDateTimeOffset_Always_IsAt()
    {
        Expiration expiration = Now.AddDays(1);

        expiration.Kind.Should().Be(ExpirationKind.At);
        expiration.Instant.Should().Be(Now.AddDays(1));
    }

    [TestCase("-1", ExpirationKind.Never, 0)]
    [TestCase("never", ExpirationKind.Never, 0)]
    [TestCase("0", ExpirationKind.DoNotCache, 0)]
    [TestCase("immediate", ExpirationKind.ExpireImmediately, 0)]
    [TestCase("3600", ExpirationKind.After, 3_600_000)]
    [TestCase("90s", ExpirationKind.After, 90_000)]
    [TestCase("15m", ExpirationKind.After, 900_000)]
    [TestCase("2h", ExpirationKind.After, 7_200_000)]
    [TestCase("1d", ExpirationKind.After, 86_400_000)]
    [TestCase("500ms", ExpirationKind.After, 500)]
    [TestCase(" 15m ", ExpirationKind.After, 900_000)]
    [TestCase("00:15:00", ExpirationKind.After, 900_000)]
    public void Parse_ValidText_GivesExpiration(string text, ExpirationKind kind, long milliseconds)
    {
        var expiration = Expiration.Parse(text);

        expiration.Kind.Should().Be(kind);
        expiration.TimeSpan.Should().Be(TimeSpan.FromMilliseconds(milliseconds));
        Expiration.TryParse(text, out var parsed).Should().BeTrue();
        parsed.Should().Be(expiration);
    }

    [Test]
    public void Parse_HttpDate_GivesAbsoluteInstant()
    {
        var expiration = Expiration.Parse("Wed, 21 Oct 2015 07:28:00 GMT");

        expiration.Kind.Should().Be(ExpirationKind.At);
        expiration.Instant.Should().Be(new DateTimeOffset(2015, 10, 21, 7, 28, 0, TimeSpan.Zero));
    }

    [TestCase("2030-01-02T03:04:05Z")]
    [TestCase("2030-01-02T05:04:05+02:00")]
    [TestCase("2030-01-02T03:04:05")]
    [TestCase("2030-01-02 03:04:05Z")]
    [TestCase("2030-01-02T03:04:05.0000000+00:00")]
    public void Parse_IsoDate_GivesAbsoluteInstantInUtc(string text)
    {
        var expiration = Expiration.Parse(text);

        expiration.Kind.Should().Be(ExpirationKind.At);
        expiration.Instant.Should().Be(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
        expiration.Instant.Offset.Should().Be(TimeSpan.Zero);
    }

    [Test]
    public void Parse_IsoDateOnly_GivesMidnightUtc()
    {
        Expiration.Parse("2030-01-02").Instant.Should().Be(new DateTimeOffset(2030, 1, 2, 0, 0, 0, TimeSpan.Zero));
    }

    [TestCase("")]
    [TestCase("   ")]
    [TestCase("garbage")]
    [TestCase("-2")]
    [TestCase("-5s")]
    [TestCase("5x")]
    [TestCase("s")]
    [TestCase("1.2.3")]
    [TestCase("May 3")]
    [TestCase("3/4/2030")]
    [TestCase("Wed, 32 Oct 2015 07:28:00 GMT")]
    public void Parse_Garbage_ThrowsFormatException(string text)
    {
        var act = () => Expiration.Parse(text);

        act.Should().Throw<FormatException>();
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("garbage")]
    [TestCase("-2")]
    [TestCase("10 parsecs")]
    public void TryParse_Garbage_ReturnsFalse(string? text)
    {
        Expiration.TryParse(text, out _).Should().BeFalse();
    }

    [TestCase("1e300")]
    [TestCase("99999999999999999999")]
    [TestCase("1e300s")]
    [TestCase("NaN")]
    [TestCase("Infinity")]
    [TestCase("-Infinity")]
    public void TryParse_NumberOutOfRange_ReturnsFalseWithoutThrowing(string text)
    {
        Expiration.TryParse(text, out _).Should().BeFalse();
        FluentActions.Invoking(() => Expiration.Parse(text)).Should().Throw<FormatException>();
    }

    [Test]
    public void FromSeconds_TooLargeForATimeSpan_ThrowsArgumentOutOfRange()
    {
        var act = () => Expiration.FromSeconds(1e300);

        act.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("seconds");
    }

    [Test]
    public void FromSeconds_LessThanATick_IsExpireImmediately()
    {
        var expiration = Expiration.FromSeconds(1e-9);

        expiration.Should().Be(Expiration.ExpireImmediately);
        Expiration.Parse(expiration.ToString()).Should().Be(expiration);
    }

    [Test]
    public void Parse_Null_ThrowsArgumentNullException()
    {
        var act = () => Expiration.Parse(null!);

        act.Should().Throw<ArgumentNullException>();
    }

    private static IEnumerable<TestCaseData> RoundTripCases()
    {
        yield return new TestCaseData(Expiration.Never, "-1").SetName("ToString_Never_ParsesBack");
        yield return new TestCaseData(Expiration.DoNotCache, "0").SetName("ToString_DoNotCache_ParsesBack");
        yield return new TestCaseData(Expiration.ExpireImmediately, "immediate").SetName("ToString_ExpireImmediately_ParsesBack");
        yield return new TestCaseData(Expiration.After(TimeSpan.FromSeconds(90)), "90s").SetName("ToString_NinetySeconds_ParsesBack");
        yield return new TestCaseData(Expiration.After(TimeSpan.FromMinutes(15)), "15m").SetName("ToString_FifteenMinutes_ParsesBack");
        yield return new TestCaseData(Expiration.After(TimeSpan.FromHours(2)), "2h").SetName("ToString_TwoHours_ParsesBack");
        yield return new TestCaseData(Expiration.After(TimeSpan.FromDays(1)), "1d").SetName("ToString_OneDay_ParsesBack");
        yield return new TestCaseData(Expiration.After(TimeSpan.FromMilliseconds(500)), "500ms").SetName("ToString_HalfSecond_ParsesBack");
        yield return new TestCaseData(Expiration.FromSeconds(3600), "1h").SetName("ToString_FromSeconds3600_ParsesBack");
        yield return new TestCaseData(Expiration.After(TimeSpan.FromTicks(15)), null).SetName("ToString_SubMillisecondSpan_ParsesBack");
        yield return new TestCaseData(Expiration.After(new TimeSpan(1, 2, 3, 4, 5)), null).SetName("ToString_MixedUnits_ParsesBack");
        yield return new TestCaseData(Expiration.At(new DateTimeOffset(2030, 1, 2, 3, 4, 5, 678, TimeSpan.Zero)), null).SetName("ToString_Instant_ParsesBack");
        yield return new TestCaseData(Expiration.At(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.FromHours(-5))), null).SetName("ToString_InstantWithOffset_ParsesBack");
    }

    [TestCaseSource(nameof(RoundTripCases))]
    public void ToString_Value_ParsesBackToEqualExpiration(Expiration expiration, string? expectedText)
    {
        var text = expiration.ToString();

        if (expectedText is not null)
        {
            text.Should().Be(expectedText);
        }

        Expiration.Parse(text).Should().Be(expiration);
    }

    [Test]
    public void Equals_SameValue_IsEqualWithSameHashCode()
    {
        var a = Expiration.After(TimeSpan.FromMinutes(1));
        var b = Expiration.FromSeconds(60);

        (a == b).Should().BeTrue();
        (a != b).Should().BeFalse();
        a.GetHashCode().Should().Be(b.GetHashCode());
        a.Should().NotBe(Expiration.After(TimeSpan.FromMinutes(2)));
        Expiration.Never.Should().NotBe(Expiration.DoNotCache);
    }

    [Test]
    public void TypeConverter_String_ConvertsBothWays()
    {
        var converter = TypeDescriptor.GetConverter(typeof(Expiration));

        converter.ConvertFromInvariantString("15m").Should().Be(Expiration.After(TimeSpan.FromMinutes(15)));
        converter.ConvertToInvariantString(Expiration.Never).Should().Be("-1");
    }
}
