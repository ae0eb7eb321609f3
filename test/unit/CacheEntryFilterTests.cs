using System.Net;

namespace CachedHttp.Tests.Unit;

/// <summary>Which entries a <see cref="CacheEntryFilter"/> matches, and the values it refuses.</summary>
[Parallelizable(ParallelScope.All)]
public class CacheEntryFilterTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static CacheEntry Entry(string url = "https://example.com/api/items?page=2", string method = "GET", int status = 200, TimeSpan? age = null, DateTimeOffset? expiresAt = null)
        => new()
        {
            Key = "k",
            Method = method,
            Url = new Uri(url),
            StatusCode = (HttpStatusCode)status,
            CreatedAt = Now - (age ?? TimeSpan.FromMinutes(10)),
            ExpiresAt = expiresAt,
        };

    [Test]
    public void Matches_EmptyFilter_MatchesEverything()
    {
        new CacheEntryFilter().Matches(Entry(), Now).Should().BeTrue();
        CacheEntryFilter.All.Matches(Entry(status: 404, method: "POST"), Now).Should().BeTrue();
    }

    [TestCase(true, -1, true)]
    [TestCase(true, 0, true)]
    [TestCase(true, 1, false)]
    [TestCase(false, -1, false)]
    [TestCase(false, 0, false)]
    [TestCase(false, 1, true)]
    public void Matches_Expired_ComparesExpiryWithNow(bool expired, int expiresInSeconds, bool expected)
    {
        var filter = new CacheEntryFilter { Expired = expired };

        filter.Matches(Entry(expiresAt: Now.AddSeconds(expiresInSeconds)), Now).Should().Be(expected);
    }

    [Test]
    public void Matches_ExpiredWithNeverExpiringEntry_IsFresh()
    {
        new CacheEntryFilter { Expired = true }.Matches(Entry(expiresAt: null), Now).Should().BeFalse();
        new CacheEntryFilter { Expired = false }.Matches(Entry(expiresAt: null), Now).Should().BeTrue();
    }

    [TestCase(59, false)]
    [TestCase(60, false)]
    [TestCase(61, true)]
    public void Matches_OlderThan_IsStrict(int ageMinutes, bool expected)
    {
        var filter = new CacheEntryFilter { OlderThan = TimeSpan.FromHours(1) };

        filter.Matches(Entry(age: TimeSpan.FromMinutes(ageMinutes)), Now).Should().Be(expected);
    }

    [Test]
    public void Matches_OlderThanHuge_MatchesNothingAndDoesNotOverflow()
    {
        new CacheEntryFilter { OlderThan = TimeSpan.MaxValue }.Matches(Entry(), Now).Should().BeFalse();
        new CacheEntryFilter { OlderThan = TimeSpan.Zero }.Matches(Entry(), Now).Should().BeTrue();
    }

    [Test]
    public void Matches_CreatedBefore_IsExclusive()
    {
        var entry = Entry(age: TimeSpan.FromHours(1));

        new CacheEntryFilter { CreatedBefore = entry.CreatedAt }.Matches(entry, Now).Should().BeFalse();
        new CacheEntryFilter { CreatedBefore = entry.CreatedAt.AddTicks(1) }.Matches(entry, Now).Should().BeTrue();
    }

    [TestCase("example.com/api/*", true)]
    [TestCase("example.com/api", true)]
    [TestCase("https://example.com/api/*", true)]
    [TestCase("http://example.com/api/*", true)]
    [TestCase("EXAMPLE.COM/API/ITEMS", true)]
    [TestCase("*.com/api/items?page=?", true)]
    [TestCase("example.com/a?i/*", true)]
    [TestCase("*", true)]
    [TestCase("", true)]
    [TestCase("example.com/other", false)]
    [TestCase("other.example.com/*", false)]
    [TestCase("*/api/items?page=3", false)]
    [TestCase("api/items", false)]
    public void Matches_UrlPattern_UsesTheRulesOfUrlsExpireAfter(string pattern, bool expected)
    {
        new CacheEntryFilter { UrlPattern = pattern }.Matches(Entry(), Now).Should().Be(expected);
    }

    [Test]
    public void Matches_UrlPatternWithRegexCharacters_IsLiteral()
    {
        var entry = Entry("https://example.com/a+b/(c)$");

        new CacheEntryFilter { UrlPattern = "example.com/a+b/(c)$" }.Matches(entry, Now).Should().BeTrue();
        new CacheEntryFilter { UrlPattern = "example.com/a.b" }.Matches(Entry("https://example.com/axb"), Now).Should().BeFalse();
    }

    [Test]
    public void Matches_StatusCodes_MatchesAnyListed()
    {
        var filter = new CacheEntryFilter { StatusCodes = [200, 404] };

        filter.Matches(Entry(status: 200), Now).Should().BeTrue();
        filter.Matches(Entry(status: 404), Now).Should().BeTrue();
        filter.Matches(Entry(status: 301), Now).Should().BeFalse();
        new CacheEntryFilter { StatusCodes = [] }.Matches(Entry(status: 301), Now).Should().BeTrue("an empty list does not restrict");
    }

    [Test]
    public void Matches_Methods_AreCaseInsensitive()
    {
        var filter = new CacheEntryFilter { Methods = ["post", "Put"] };

        filter.Matches(Entry(method: "POST"), Now).Should().BeTrue();
        filter.Matches(Entry(method: "PUT"), Now).Should().BeTrue();
        filter.Matches(Entry(method: "GET"), Now).Should().BeFalse();
    }

    [Test]
    public void Matches_Predicate_IsCalledOnlyAfterTheOtherCriteriaPass()
    {
        var calls = 0;
        var filter = new CacheEntryFilter { StatusCodes = [200], Predicate = e => ++calls > 0 && e.Url.Query.Contains("page=2", StringComparison.Ordinal) };

        filter.Matches(Entry(status: 404), Now).Should().BeFalse();
        calls.Should().Be(0);
        filter.Matches(Entry(), Now).Should().BeTrue();
        filter.Matches(Entry("https://example.com/api/items?page=3"), Now).Should().BeFalse();
        calls.Should().Be(2);
    }

    [Test]
    public void Matches_SeveralCriteria_MustAllHold()
    {
        var filter = new CacheEntryFilter { Expired = true, OlderThan = TimeSpan.FromMinutes(5), UrlPattern = "example.com/api/*", StatusCodes = [200], Methods = ["GET"] };

        filter.Matches(Entry(expiresAt: Now.AddMinutes(-1)), Now).Should().BeTrue();
        filter.Matches(Entry(expiresAt: Now.AddMinutes(1)), Now).Should().BeFalse();
        filter.Matches(Entry(expiresAt: Now.AddMinutes(-1), age: TimeSpan.FromMinutes(1)), Now).Should().BeFalse();
        filter.Matches(Entry("https://example.com/web", expiresAt: Now.AddMinutes(-1)), Now).Should().BeFalse();
    }

    [Test]
    public void Matches_NullEntry_Throws()
    {
        FluentActions.Invoking(() => CacheEntryFilter.All.Matches(null!, Now)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("entry");
    }

    [Test]
    public void OlderThan_Negative_ThrowsNamingIt()
    {
        FluentActions.Invoking(() => new CacheEntryFilter { OlderThan = TimeSpan.FromSeconds(-1) })
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("OlderThan");
    }

    [TestCase(99)]
    [TestCase(1000)]
    [TestCase(-200)]
    public void StatusCodes_OutOfRange_ThrowsNamingIt(int code)
    {
        FluentActions.Invoking(() => new CacheEntryFilter { StatusCodes = [200, code] })
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("StatusCodes");
    }

    [TestCase(null)]
    [TestCase("")]
    public void Methods_NullOrEmpty_ThrowsNamingIt(string? method)
    {
        FluentActions.Invoking(() => new CacheEntryFilter { Methods = ["GET", method!] })
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Methods");
    }

    [Test]
    public void Collections_AreCopiedWhenSet()
    {
        var codes = new List<int> { 200 };
        var filter = new CacheEntryFilter { StatusCodes = codes };

        codes.Add(404);

        filter.Matches(Entry(status: 404), Now).Should().BeFalse();
        filter.StatusCodes.Should().Equal(200);
    }

    [Test]
    public void CacheEntry_IsExpiredAndGetAge_UseTheGivenTime()
    {
        var entry = Entry(age: TimeSpan.FromMinutes(3), expiresAt: Now);

        entry.IsExpired(Now).Should().BeTrue();
        entry.IsExpired(Now.AddTicks(-1)).Should().BeFalse();
        entry.GetAge(Now).Should().Be(TimeSpan.FromMinutes(3));
        entry.GetAge(entry.CreatedAt.AddMinutes(-1)).Should().Be(TimeSpan.Zero);
        (entry with { ExpiresAt = null }).IsExpired(DateTimeOffset.MaxValue).Should().BeFalse();
    }
}
