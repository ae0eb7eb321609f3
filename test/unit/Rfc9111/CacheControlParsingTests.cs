using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit.Rfc9111;

/// <summary>RFC 9111 §5.2 (directive syntax), §1.2.2 (delta-seconds) and §4.2.1 (duplicates, invalid values): parsing never throws.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class CacheControlParsingTests
{
    private const long TwoTo31 = 2147483648L;

    // Expected max-age in seconds; -1 = absent (directive ignored or missing).
    [TestCase("max-age=60", 60, TestName = "S5_2_MaxAge_Plain")]
    [TestCase("MaX-AgE=60", 60, TestName = "S5_2_NamesAreCaseInsensitive")]
    [TestCase("max-age=\"60\"", 60, TestName = "S5_2_QuotedValue_IsUnquoted")]
    [TestCase("max-age=003600", 3600, TestName = "S1_2_2_LeadingZeros_Accepted")]
    [TestCase("max-age=60, max-age=10", 60, TestName = "S4_2_1_Duplicate_FirstWins")]
    [TestCase("max-age=10, max-age=60", 10, TestName = "S4_2_1_Duplicate_FirstWins_Reversed")]
    [TestCase("extension=\"max-age=3600\", max-age=1", 1, TestName = "S5_2_MaxAgeInsideQuotes_IsNotADirective")]
    [TestCase("max-age=1, extension=\"max-age=3600\"", 1, TestName = "S5_2_MaxAgeInsideQuotesAfter_IsNotADirective")]
    [TestCase("foo=\"a, max-age=99\", max-age=5", 5, TestName = "S5_2_CommaInsideQuotes_DoesNotSplit")]
    [TestCase("foobar, max-age=60", 60, TestName = "S5_2_3_UnknownDirective_Ignored")]
    [TestCase("max-age=abc", 0, TestName = "S4_2_1_NonNumeric_IsStale")]
    [TestCase("max-age=-100", 0, TestName = "S4_2_1_Negative_IsStale")]
    [TestCase("max-age=1.5", 0, TestName = "S4_2_1_Decimal_IsStale")]
    [TestCase("max-age=100a", 0, TestName = "S4_2_1_TrailingAlpha_IsStale")]
    [TestCase("max-age='60'", 0, TestName = "S4_2_1_SingleQuoted_IsStale")]
    [TestCase("max-age=", 0, TestName = "S4_2_1_EmptyValue_IsStale")]
    [TestCase("max-age", 0, TestName = "S4_2_1_NoValue_IsStale")]
    [TestCase("max-age =60", -1, TestName = "S5_2_SpaceBeforeEquals_DirectiveIgnored")]
    [TestCase("max-age= 60", -1, TestName = "S5_2_SpaceAfterEquals_DirectiveIgnored")]
    [TestCase("max-age=\"60", -1, TestName = "S5_2_UnterminatedQuote_DirectiveIgnored")]
    [TestCase("max-age=2147483647", 2147483647L, TestName = "S1_2_2_LargestInt_Kept")]
    [TestCase("max-age=2147483648", TwoTo31, TestName = "S1_2_2_TwoTo31_Kept")]
    [TestCase("max-age=99999999999", TwoTo31, TestName = "S1_2_2_Overflow_SaturatesAt2To31")]
    [TestCase("max-age=99999999999999999999999999", TwoTo31, TestName = "S1_2_2_HugeOverflow_SaturatesAt2To31")]
    [TestCase("  ,, max-age=7 ,", 7, TestName = "S5_2_EmptyListElements_Ignored")]
    [TestCase("no-store", -1, TestName = "S5_2_NoMaxAge_Absent")]
    public void MaxAge_Table(string header, long expectedSeconds)
    {
        var maxAge = CacheControlDirectives.Parse(header).MaxAge;

        if (expectedSeconds < 0)
        {
            maxAge.Should().BeNull();
        }
        else
        {
            maxAge.Should().Be(TimeSpan.FromSeconds(expectedSeconds));
        }
    }

    [TestCase("no-store", nameof(CacheControlDirectives.NoStore))]
    [TestCase("No-StOrE", nameof(CacheControlDirectives.NoStore))]
    [TestCase("no-cache", nameof(CacheControlDirectives.NoCache))]
    [TestCase("no-cache=\"Set-Cookie, X-A\"", nameof(CacheControlDirectives.NoCache))] // §5.2.2.4: qualified treated as unqualified
    [TestCase("must-revalidate", nameof(CacheControlDirectives.MustRevalidate))]
    [TestCase("proxy-revalidate", nameof(CacheControlDirectives.ProxyRevalidate))]
    [TestCase("public", nameof(CacheControlDirectives.Public))]
    [TestCase("private", nameof(CacheControlDirectives.Private))]
    [TestCase("private=\"X-A\"", nameof(CacheControlDirectives.Private))]
    [TestCase("immutable", nameof(CacheControlDirectives.Immutable))]
    [TestCase("only-if-cached", nameof(CacheControlDirectives.OnlyIfCached))]
    [TestCase("must-understand", nameof(CacheControlDirectives.MustUnderstand))]
    [TestCase("no-transform", nameof(CacheControlDirectives.NoTransform))]
    public void S5_2_BooleanDirective_IsRecognized(string header, string property)
    {
        var directives = CacheControlDirectives.Parse("x-first, " + header + ", x-last");

        typeof(CacheControlDirectives).GetProperty(property)!.GetValue(directives).Should().Be(true);
    }

    [TestCase("max-stale", long.MaxValue, TestName = "S5_2_1_2_MaxStaleWithoutValue_IsUnbounded")]
    [TestCase("max-stale=30", 30L, TestName = "S5_2_1_2_MaxStaleWithValue")]
    [TestCase("max-stale=x", 0L, TestName = "S5_2_1_2_MaxStaleInvalid_IsZero")]
    public void MaxStale_Table(string header, long expected)
    {
        var maxStale = CacheControlDirectives.Parse(header).MaxStale;

        maxStale.Should().Be(expected == long.MaxValue ? TimeSpan.MaxValue : TimeSpan.FromSeconds(expected));
    }

    [Test]
    public void S5_2_DeltaDirectives_AreRead()
    {
        var directives = CacheControlDirectives.Parse("min-fresh=3, s-maxage=4, stale-while-revalidate=5, stale-if-error=6");

        directives.MinFresh.Should().Be(TimeSpan.FromSeconds(3));
        directives.SharedMaxAge.Should().Be(TimeSpan.FromSeconds(4));
        directives.StaleWhileRevalidate.Should().Be(TimeSpan.FromSeconds(5));
        directives.StaleIfError.Should().Be(TimeSpan.FromSeconds(6));
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    [TestCase(",,,")]
    public void S5_2_EmptyValue_HasNoDirectives(string? header)
        => CacheControlDirectives.Parse(header).IsEmpty.Should().BeTrue();

    [TestCase(",,,=\"unterminated, ;;; max-age==3")]
    [TestCase("\"")]
    [TestCase("=")]
    [TestCase("max-age=\"\\")]
    [TestCase("a=\"b\\\"c\", max-age=\"1\\")]
    [TestCase("\u0000\u00ff, no-store")]
    public void S5_2_Garbage_NeverThrows(string header)
    {
        var act = () => CacheControlDirectives.Parse(header);

        act.Should().NotThrow();
    }

    [Test]
    public void S5_2_RandomStrings_NeverThrow_AndNeverHang()
    {
        // Fuzz-ish: random strings over an alphabet rich in the characters the grammar cares about.
        const string alphabet = "abcmnostx-=\",\\ \t;0123456789'*/()\u00e9";
        string[] fragments = ["max-age", "no-store", "no-cache", "=", "\"", ",", " ", "stale-if-error=", "2147483648", "99999999999999999999"];
        var random = new Random(9111);
        for (var i = 0; i < 20_000; i++)
        {
            var builder = new System.Text.StringBuilder();
            var length = random.Next(0, 40);
            for (var j = 0; j < length; j++)
            {
                builder.Append(random.Next(4) == 0 ? fragments[random.Next(fragments.Length)] : alphabet[random.Next(alphabet.Length)].ToString());
            }

            var text = builder.ToString();
            var act = () => CacheControlDirectives.Parse(text);
            act.Should().NotThrow(text);
        }
    }

    [TestCase("no-cache", true)]
    [TestCase("NO-CACHE", true)]
    [TestCase("foo, no-cache", true)]
    [TestCase("no-cache-please", false)]
    [TestCase("unrecognised-extension", false)]
    [TestCase("", false)]
    public void S5_4_PragmaNoCache_Table(string pragma, bool expected)
        => CachePolicy.HasPragmaNoCache(pragma).Should().Be(expected);
}
