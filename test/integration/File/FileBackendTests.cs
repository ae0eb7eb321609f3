using System.Net;
using System.Text;
using System.Text.Json;

namespace CachedHttp.Tests.Integration.FileStorage;

[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class FileBackendTests
{
    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    [Test]
    public async Task FileBackend_Defaults_AutoCloseAndTwoStoresInOneDirectory()
    {
        var directory = _folder.NewSubfolder();
        await using var backend = new FileBackend(directory);

        backend.Directory.Should().Be(Path.GetFullPath(directory));
        backend.AutoClose.Should().BeTrue();
        backend.Name.Should().Be("file");
        backend.Responses.Should().BeOfType<FileCache>().Which.StoreDirectory.Should().Be(Path.Combine(backend.Directory, "responses"));
        backend.Redirects.Should().BeOfType<FileCache>().Which.StoreDirectory.Should().Be(Path.Combine(backend.Directory, "redirects"));
        FileBackend.DefaultDirectory.Should().Be("http_cache");
    }

    [Test]
    public async Task FileBackend_AutoCloseOption_OverridesDefault()
    {
        await using var backend = new FileBackend(_folder.NewSubfolder(), new CacheOptions { AutoClose = false });
        backend.AutoClose.Should().BeFalse();
    }

    [Test]
    public void FileBackend_InvalidArguments_Throw()
    {
        FluentActions.Invoking(() => new FileBackend(" ")).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new FileBackend(_folder.NewSubfolder(), fileOptions: new FileCacheOptions { TempFileRetention = TimeSpan.FromDays(-1) }))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("TempFileRetention");
        FluentActions.Invoking(() => new FileBackend(_folder.NewSubfolder(), new CacheOptions { MaxBodySize = -1 }))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("MaxBodySize");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task CachedSession_SecondGet_IsServedFromCache_AndStillAfterRestart(bool readable)
    {
        var directory = _folder.NewSubfolder();
        var fileOptions = new FileCacheOptions { ReadableFormat = readable };
        var origin = new CountingHandler();

        using (var session = new CachedSession(new FileBackend(directory, fileOptions: fileOptions), origin, disposeHandler: false))
        {
            using var first = await session.GetAsync(new Uri("https://example.test/data?x=1"));
            first.IsFromCache().Should().BeFalse();
            (await first.Content.ReadAsStringAsync()).Should().Be("hello from origin");

            using var second = await session.GetAsync(new Uri("https://example.test/data?x=1"));
            second.IsFromCache().Should().BeTrue();
            second.StatusCode.Should().Be(HttpStatusCode.OK);
            (await second.Content.ReadAsStringAsync()).Should().Be("hello from origin");
            second.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        }

        origin.Calls.Should().Be(1);

        // A restart: a new backend instance over the same directory.
        using (var session = new CachedSession(new FileBackend(directory, fileOptions: fileOptions), origin, disposeHandler: false))
        {
            using var third = await session.GetAsync(new Uri("https://example.test/data?x=1"));
            third.IsFromCache().Should().BeTrue();
            (await third.Content.ReadAsStringAsync()).Should().Be("hello from origin");
            (await session.Cache.HasUrlAsync("https://example.test/data?x=1")).Should().BeTrue();
        }

        origin.Calls.Should().Be(1);
        origin.Dispose();
    }

    [Test]
    public async Task CachedSession_ReadableFormat_LeavesInspectableFiles()
    {
        var directory = _folder.NewSubfolder();
        using var origin = new CountingHandler();
        using var session = new CachedSession(new FileBackend(directory, fileOptions: new FileCacheOptions { ReadableFormat = true }), origin, disposeHandler: false);
        using var response = await session.GetAsync(new Uri("https://example.test/page"));

        var json = Directory.GetFiles(Path.Combine(directory, "responses"), "*.json").Should().ContainSingle().Subject;
        using var document = JsonDocument.Parse(await File.ReadAllBytesAsync(json));
        var metadata = document.RootElement.GetProperty("metadata");
        metadata.GetProperty("Url").GetString().Should().Be("https://example.test/page");
        metadata.GetProperty("Status").GetInt32().Should().Be(200);
        (await File.ReadAllTextAsync(Path.ChangeExtension(json, ".body"))).Should().Be("hello from origin");
    }

    [Test]
    public async Task FileBackend_DeleteExpiredResponses_RemovesFiles()
    {
        var directory = _folder.NewSubfolder();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var origin = new CountingHandler();
        using var session = new CachedSession(new FileBackend(directory, new CacheOptions { TimeProvider = time, ExpireAfter = Expiration.FromSeconds(60) }), origin, disposeHandler: false);
        using (await session.GetAsync(new Uri("https://example.test/a")))
        {
        }

        Directory.GetFiles(Path.Combine(directory, "responses")).Should().HaveCount(1);
        time.Advance(TimeSpan.FromMinutes(2));
        (await session.Cache.DeleteExpiredResponsesAsync()).Should().BeGreaterThanOrEqualTo(1);
        Directory.GetFiles(Path.Combine(directory, "responses")).Should().BeEmpty();
    }

    /// <summary>An origin that returns a fixed response and counts the calls.</summary>
    private sealed class CountingHandler : HttpMessageHandler
    {
        private int _calls;

        public int Calls => _calls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("hello from origin", Encoding.UTF8, "text/plain"),
                RequestMessage = request,
            });
        }
    }
}
