using Amazon.DynamoDBv2;
using CachedHttp.DynamoDB;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>Validation at construction: needs no server (the client is never called).</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class DynamoDbOptionsTests
{
    private readonly AmazonDynamoDBClient _unreachable = DynamoDbServer.CreateClient("http://127.0.0.1:1");

    [OneTimeTearDown]
    public void DisposeClient() => _unreachable.Dispose();

    [TestCase(nameof(DynamoDbCacheOptions.ChunkSize))]
    [TestCase(nameof(DynamoDbCacheOptions.TableName))]
    [TestCase(nameof(DynamoDbCacheOptions.TtlAttributeName))]
    [TestCase(nameof(DynamoDbCacheOptions.WriteCapacity))]
    [TestCase(nameof(DynamoDbCacheOptions.OperationTimeout))]
    [TestCase(nameof(DynamoDbCacheOptions.ScanPageSize))]
    [TestCase(nameof(DynamoDbCacheOptions.ServiceUrl))]
    public void Constructors_InvalidOption_ThrowArgumentExceptionNamingIt(string option)
    {
        var options = new DynamoDbCacheOptions();
        switch (option)
        {
            case nameof(DynamoDbCacheOptions.ChunkSize): options.ChunkSize = 400 * 1024; break;
            case nameof(DynamoDbCacheOptions.TableName): options.TableName = "a b"; break;
            case nameof(DynamoDbCacheOptions.TtlAttributeName): options.TtlAttributeName = "k"; break;
            case nameof(DynamoDbCacheOptions.WriteCapacity): options.ReadCapacity = 5; break;
            case nameof(DynamoDbCacheOptions.OperationTimeout): options.OperationTimeout = TimeSpan.Zero; break;
            case nameof(DynamoDbCacheOptions.ScanPageSize): options.ScanPageSize = 0; break;
            case nameof(DynamoDbCacheOptions.ServiceUrl): options.ServiceUrl = "not a url"; break;
        }

        var (client, recorder) = RecordingDynamoDb.Wrap(_unreachable);
        FluentActions.Invoking(() => new DynamoDbCache(client, "resp", options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new DynamoDbBackend(client, null, options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        FluentActions.Invoking(() => new DynamoDbBackend(options)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(option);
        recorder.Calls.Should().BeEmpty("validation happens before any request");
    }

    [Test]
    public void Constructors_BadArguments_Throw()
    {
        FluentActions.Invoking(() => new DynamoDbCache(_unreachable, "a:b")).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("storeName");
        FluentActions.Invoking(() => new DynamoDbCache(_unreachable, "")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new DynamoDbCache(null!, "resp")).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new DynamoDbBackend((IAmazonDynamoDB)null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new DynamoDbBackend(_unreachable, new CacheOptions { MaxBodySize = -1 })).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("MaxBodySize");
        FluentActions.Invoking(() => new DynamoDbBackend(new DynamoDbCacheOptions { ServiceUrl = DynamoDbServer.Url }, new CacheOptions { MaxBodySize = -1 }))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("MaxBodySize");
    }
}
