using CachedHttp.Policy;

namespace CachedHttp.Tests.Unit;

[Parallelizable(ParallelScope.All)]
public class CacheControlDirectivesTests
{
    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    public void Parse_NullOrBlank_IsEmpty(string? value)
    {
        var directives = CacheControlDirectives.Parse(value);

        directives.IsEmpty.Should().BeTrue();
        directives.MaxAge.Should().BeNull();
        directives.NoStore.Should().BeFalse();
    }

    [Test]
    public void Parse_MaxAge_GivesSeconds()
    {
        CacheControlDirectives.Parse("max-age=60").MaxAge.Should().Be(TimeSpan.FromSeconds(60));
    }

    [Test]
    public void Parse_SeveralDirectives_ReadsEach()
    {
        var directives = CacheControlDirectives.Parse("public, max-age=10, s-maxage=20, must-revalidate, stale-while-revalidate=5, stale-if-error=7, immutable");

        directives.Public.Should().BeTrue();
        directives.MaxAge.Should().Be(TimeSpan.FromSeconds(10));
        directives.SharedMaxAge.Should().Be(TimeSpan.FromSeconds(20));
        directives.MustRevalidate.Should().BeTrue();
        directives.StaleWhileRevalidate.Should().Be(TimeSpan.FromSeconds(5));
        directives.StaleIfError.Should().Be(TimeSpan.FromSeconds(7));
        directives.Immutable.Should().BeTrue();
        directives.IsEmpty.Should().BeFalse();
    }

    [TestCase("no-store")]
    [TestCase("NO-STORE")]
    [TestCase("  no-store  ")]
    [TestCase("private, no-store")]
    public void Parse_NoStore_IsRecognizedCaseInsensitively(string value)
    {
        CacheControlDirectives.Parse(value).NoStore.Should().BeTrue();
    }

    [Test]
    public void Parse_RequestDirectives_ReadsEach()
    {
        var directives = CacheControlDirectives.Parse("no-cache, min-fresh=3, only-if-cached");

        directives.NoCache.Should().BeTrue();
        directives.MinFresh.Should().Be(TimeSpan.FromSeconds(3));
        directives.OnlyIfCached.Should().BeTrue();
    }

    [Test]
    public void Parse_QualifiedNoCache_CountsAsNoCache()
    {
        CacheControlDirectives.Parse("no-cache=\"Set-Cookie, X-Foo\", max-age=5").NoCache.Should().BeTrue();
        CacheControlDirectives.Parse("no-cache=\"Set-Cookie, X-Foo\", max-age=5").MaxAge.Should().Be(TimeSpan.FromSeconds(5));
    }

    [Test]
    public void Parse_QuotedValue_IsUnquoted()
    {
        CacheControlDirectives.Parse("max-age=\"30\"").MaxAge.Should().Be(TimeSpan.FromSeconds(30));
    }

    [Test]
    public void Parse_DuplicateDirective_FirstWins()
    {
        CacheControlDirectives.Parse("max-age=10, max-age=99").MaxAge.Should().Be(TimeSpan.FromSeconds(10));
    }

    [TestCase("max-age=abc")]
    [TestCase("max-age=-5")]
    [TestCase("max-age=1.5")]
    [TestCase("max-age=")]
    [TestCase("max-age")]
    public void Parse_InvalidDeltaSeconds_CountsAsZero(string value)
    {
        CacheControlDirectives.Parse(value).MaxAge.Should().Be(TimeSpan.Zero);
    }

    [Test]
    public void Parse_HugeDeltaSeconds_SaturatesAtTwoToThe31()
    {
        CacheControlDirectives.Parse("max-age=99999999999999999999").MaxAge.Should().Be(TimeSpan.FromSeconds(2147483648L));
    }

    [Test]
    public void Parse_MaxStaleWithoutValue_IsUnbounded()
    {
        CacheControlDirectives.Parse("max-stale").MaxStale.Should().Be(TimeSpan.MaxValue);
        CacheControlDirectives.Parse("max-stale=30").MaxStale.Should().Be(TimeSpan.FromSeconds(30));
    }

    [Test]
    public void Parse_UnknownDirective_IsIgnored()
    {
        var directives = CacheControlDirectives.Parse("x-custom=1, community=\"UCI\", max-age=4");

        directives.MaxAge.Should().Be(TimeSpan.FromSeconds(4));
        directives.NoStore.Should().BeFalse();
    }

    [Test]
    public void Parse_Garbage_DoesNotThrow()
    {
        var act = () => CacheControlDirectives.Parse(",,,=\"unterminated, ;;; max-age==3");

        act.Should().NotThrow();
    }
}
