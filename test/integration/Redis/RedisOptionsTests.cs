using CachedHttp.Redis;
using StackExchange.Redis;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>Bad options and arguments fail at construction, before any connection is made. No server needed.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RedisOptionsTests
{
    // Nothing listens on port 1; a constructor that connected before validating would still not throw.
    private const string Unreachable = "127.0.0.1:1,connectTimeout=200";

    private static IEnumerable<TestCaseData> BadOptions()
    {
        yield return Case(o => o.KeyPrefix = "", nameof(RedisCacheOptions.KeyPrefix));
        yield return Case(o => o.KeyPrefix = null!, nameof(RedisCacheOptions.KeyPrefix));
        yield return Case(o => o.Database = -2, nameof(RedisCacheOptions.Database));
        yield return Case(o => o.ConnectTimeout = TimeSpan.Zero, nameof(RedisCacheOptions.ConnectTimeout));
        yield return Case(o => o.ConnectTimeout = TimeSpan.FromDays(30), nameof(RedisCacheOptions.ConnectTimeout));
        yield return Case(o => o.OperationTimeout = TimeSpan.Zero, nameof(RedisCacheOptions.OperationTimeout));
        yield return Case(o => o.OperationTimeout = TimeSpan.FromSeconds(-1), nameof(RedisCacheOptions.OperationTimeout));
        yield return Case(o => o.OperationTimeout = Timeout.InfiniteTimeSpan, nameof(RedisCacheOptions.OperationTimeout));
        yield return Case(o => o.ScanBatchSize = 0, nameof(RedisCacheOptions.ScanBatchSize));
        yield return Case(o => o.ScanBatchSize = -5, nameof(RedisCacheOptions.ScanBatchSize));

        static TestCaseData Case(Action<RedisCacheOptions> change, string option)
            => new TestCaseData(change, option).SetArgDisplayNames(option);
    }

    [Test]
    public void Defaults_AreDocumentedValues()
    {
        var options = new RedisCacheOptions();

        options.KeyPrefix.Should().Be("aiohttp-cache");
        options.Database.Should().Be(-1);
        options.ConnectTimeout.Should().Be(TimeSpan.FromSeconds(5));
        options.OperationTimeout.Should().Be(TimeSpan.FromSeconds(5));
        options.ScanBatchSize.Should().Be(500);
        options.Invoking(o => o.Validate()).Should().NotThrow();
    }

    [TestCaseSource(nameof(BadOptions))]
    public void Validate_BadOption_ThrowsNamingIt(Action<RedisCacheOptions> change, string option)
    {
        var options = new RedisCacheOptions();
        change(options);

        options.Invoking(o => o.Validate()).Should().Throw<ArgumentException>()
            .Which.ParamName.Should().Be(option);
    }

    [TestCaseSource(nameof(BadOptions))]
    public void RedisBackend_FromConfigurationWithBadOption_ThrowsNamingIt(Action<RedisCacheOptions> change, string option)
    {
        var options = new RedisCacheOptions();
        change(options);

        var create = () => new RedisBackend(Unreachable, redisOptions: options);

        create.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
    }

    [TestCaseSource(nameof(BadOptions))]
    public void RedisCache_WithBadOption_ThrowsNamingIt(Action<RedisCacheOptions> change, string option)
    {
        var options = new RedisCacheOptions();
        change(options);

        var create = () => new RedisCache(Unreachable, "responses", options);

        create.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
    }

    [Test]
    public void RedisBackend_FromConfigurationWithBadCacheOptions_ThrowsNamingIt()
    {
        var create = () => new RedisBackend(Unreachable, new CacheOptions { MaxBodySize = -1 });

        create.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(nameof(CacheOptions.MaxBodySize));
    }

    [Test]
    public void Constructors_NullOrEmptyArguments_Throw()
    {
        ((Func<RedisBackend>)(() => new RedisBackend((IConnectionMultiplexer)null!))).Should().Throw<ArgumentNullException>();
        ((Func<RedisBackend>)(() => new RedisBackend((string)null!))).Should().Throw<ArgumentException>();
        ((Func<RedisBackend>)(() => new RedisBackend(" "))).Should().Throw<ArgumentException>();
        ((Func<RedisCache>)(() => new RedisCache((IConnectionMultiplexer)null!, "p", "s"))).Should().Throw<ArgumentNullException>();
        ((Func<RedisCache>)(() => new RedisCache(Unreachable, ""))).Should().Throw<ArgumentException>();
    }

    [Test]
    public void RedisBackend_FromBadConfigurationString_ThrowsArgumentException()
    {
        var create = () => new RedisBackend("127.0.0.1:1,notAnOption=1");

        create.Should().Throw<ArgumentException>();
    }
}
