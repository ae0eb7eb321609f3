using System.Net;
using System.Text;
using CachedHttp.Tests.Unit.Infrastructure;

namespace CachedHttp.Tests.Unit;

/// <summary>Bodies: reading hits many times, streaming live responses while they are stored, size limits, failed and cancelled reads.</summary>
[Parallelizable(ParallelScope.All)]
public class BodyTests
{
    private const string Url = "https://example.com/body";

    private static async Task<byte[]> ReadAllAsync(Stream stream, int bufferSize = 8192, CancellationToken cancellationToken = default)
    {
        using var copy = new MemoryStream();
        var buffer = new byte[bufferSize];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            copy.Write(buffer, 0, read);
        }

        return copy.ToArray();
    }

    [Test]
    public async Task Hit_Body_CanBeReadAsStreamAndThenManyTimes()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok("hello body"));
        await cache.GetAsync(Url);
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);

        using var hit = await cache.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        hit.IsFromCache().Should().BeTrue();
        hit.Content.Headers.ContentLength.Should().Be(10);
        await using (var stream = await hit.Content.ReadAsStreamAsync())
        {
            (await ReadAllAsync(stream, bufferSize: 3)).Should().Equal(Encoding.UTF8.GetBytes("hello body"));
        }

        (await hit.Content.ReadAsStringAsync()).Should().Be("hello body");
        (await hit.Content.ReadAsStringAsync()).Should().Be("hello body");
        (await hit.Content.ReadAsByteArrayAsync()).Should().Equal(Encoding.UTF8.GetBytes("hello body"));
    }

    [Test]
    public void HitSync_Body_CanBeReadAsStreamAndThenAgain()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok("hello body"));
        cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url)).Dispose();

        using var hit = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url), HttpCompletionOption.ResponseHeadersRead);

        hit.IsFromCache().Should().BeTrue();
        using (var reader = new StreamReader(hit.Content.ReadAsStream()))
        {
            reader.ReadToEnd().Should().Be("hello body");
        }

        using var copy = new MemoryStream();
        hit.Content.CopyTo(copy, null, CancellationToken.None);
        copy.ToArray().Should().Equal(Encoding.UTF8.GetBytes("hello body"));
    }

    [Test]
    public async Task Hit_ConcurrentReaders_EachGetTheWholeBody()
    {
        using var cache = new TestCache();
        var expected = ChunkedStream.Expected(100_000);
        cache.Stub.Respond(Url, StubResponse.Ok(expected));
        await cache.GetAsync(Url);

        var bodies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => cache.Client.GetByteArrayAsync(Url))));

        bodies.Should().AllSatisfy(b => b.Should().Equal(expected));
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Hit_DisposedResponse_DoesNotAffectTheStoredEntry()
    {
        using var cache = new TestCache();
        await cache.GetAsync(Url);
        var (hit, _) = await cache.GetAsync(Url);
        hit.Dispose();

        var (again, body) = await cache.GetAsync(Url);

        again.IsFromCache().Should().BeTrue();
        body.Should().Be("body of " + Url);
    }

    [Test]
    public async Task Miss_ChunkedBody_StreamsToCallerAndIsStoredOnceReadToTheEnd()
    {
        using var cache = new TestCache();
        const int size = 1_000_000;
        ChunkedStream? source = null;
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => source = new ChunkedStream(size, chunkSize: 4096)));
        using var request = new HttpRequestMessage(HttpMethod.Get, Url);

        using var live = await cache.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await live.Content.ReadAsStreamAsync();
        var head = new byte[10_000];
        await stream.ReadExactlyAsync(head);

        source!.BytesServed.Should().BeLessThan(size, "the body streams: it is not read whole before the caller gets it");
        (await cache.StoredCountAsync()).Should().Be(0, "nothing is stored before the body is complete");

        var rest = await ReadAllAsync(stream);

        head.Concat(rest).Should().Equal(ChunkedStream.Expected(size));
        (await cache.StoredCountAsync()).Should().Be(1);
        var (hit, _) = await cache.GetAsync(Url);
        hit.IsFromCache().Should().BeTrue();
        (await hit.Content.ReadAsByteArrayAsync()).Should().Equal(ChunkedStream.Expected(size));
    }

    [Test]
    public async Task Miss_SlowChunkedBody_CallerGetsChunksAsTheyComeAndItIsStoredAtTheEnd()
    {
        using var cache = new TestCache();
        ChunkedStream? source = null;
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => source = new ChunkedStream(20 * 100, chunkSize: 100, delayPerChunk: TimeSpan.FromMilliseconds(5))));
        using var live = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await live.Content.ReadAsStreamAsync();

        var firstChunk = new byte[100];
        await stream.ReadExactlyAsync(firstChunk);
        source!.BytesServed.Should().Be(100, "the caller reads each chunk as the origin sends it");
        var rest = await ReadAllAsync(stream);

        firstChunk.Concat(rest).Should().Equal(ChunkedStream.Expected(2000));
        (await cache.StoredCountAsync()).Should().Be(1);
    }

    [Test]
    public void MissSync_ChunkedBodyReadWithSend_IsStored()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new ChunkedStream(50_000, chunkSize: 1000)));

        using (var response = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url), HttpCompletionOption.ResponseHeadersRead))
        {
            using var copy = new MemoryStream();
            response.Content.ReadAsStream().CopyTo(copy);
            copy.ToArray().Should().Equal(ChunkedStream.Expected(50_000));
        }

        using var hit = cache.Client.Send(new HttpRequestMessage(HttpMethod.Get, Url));
        hit.IsFromCache().Should().BeTrue();
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [TestCase(false, TestName = "Miss_BodyOverMaxBodySizeWithoutContentLength_PassesThroughUncached")]
    [TestCase(true, TestName = "Miss_BodyOverMaxBodySizeWithContentLength_PassesThroughUncached")]
    public async Task Miss_BodyOverMaxBodySize_PassesThroughUncached(bool knownLength)
    {
        const int size = 300_000;
        using var cache = new TestCache(o => o.MaxBodySize = 100_000);
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new ChunkedStream(size), knownLength ? size : null));

        var first = await cache.Client.GetByteArrayAsync(Url);
        var second = await cache.Client.GetByteArrayAsync(Url);

        first.Should().Equal(ChunkedStream.Expected(size));
        second.Should().Equal(ChunkedStream.Expected(size));
        cache.Stub.TotalCalls.Should().Be(2);
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Miss_BodyAtMaxBodySize_IsStored()
    {
        using var cache = new TestCache(o => o.MaxBodySize = 1000);
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new ChunkedStream(1000, chunkSize: 300)));

        await cache.Client.GetByteArrayAsync(Url);
        await cache.Client.GetByteArrayAsync(Url);

        cache.Stub.TotalCalls.Should().Be(1);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Miss_BodyOverMaxBodySize_IsNotHeldWholeInMemory(bool knownLength)
    {
        const int size = 8 * 1024 * 1024;
        var allocatedOverLimit = await AllocatedWhileStreaming(size, maxBodySize: 64 * 1024, knownLength);
        var allocatedUnderLimit = await AllocatedWhileStreaming(size, maxBodySize: 16 * 1024 * 1024, knownLength);

        allocatedUnderLimit.Should().BeGreaterThan(size, "a body under the limit is copied aside to be stored (this proves the measure)");
        allocatedOverLimit.Should().BeLessThan(2 * 1024 * 1024, "a body over the limit streams through without being copied whole");
    }

    /// <summary>Bytes allocated on this thread while a live body is read with synchronous reads.</summary>
    private static async Task<long> AllocatedWhileStreaming(int size, long maxBodySize, bool knownLength)
    {
        using var cache = new TestCache(o => o.MaxBodySize = maxBodySize);
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new ChunkedStream(size, chunkSize: 16 * 1024), knownLength ? size : null));
        using var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);
        using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[16 * 1024];
        long total = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            total += read;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        total.Should().Be(size);
        return allocated;
    }

    [Test]
    public async Task Miss_BodyStreamFailsMidway_ExceptionReachesCallerAndNothingIsStored()
    {
        using var cache = new TestCache();
        cache.Stub.RespondInSequence(
            Url,
            StubResponse.Ok().WithStream(() => new FailingStream(new byte[5000], new IOException("connection reset"))),
            StubResponse.Ok("complete"));

        var act = () => cache.Client.GetAsync(Url);

        var thrown = await act.Should().ThrowAsync<Exception>();
        Unwrap(thrown.Which).OfType<IOException>().Should().ContainSingle(e => e.Message == "connection reset");
        (await cache.StoredCountAsync()).Should().Be(0);
        cache.Backend.InFlight.Should().BeEmpty();
        (await cache.Client.GetStringAsync(Url)).Should().Be("complete");
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Miss_StreamedBodyFailsMidway_ExceptionReachesReaderAndNothingIsStored()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new FailingStream(new byte[5000], new IOException("connection reset"))));
        using var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();

        var act = () => ReadAllAsync(stream);

        await act.Should().ThrowAsync<IOException>().WithMessage("connection reset");
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Miss_CancelledWhileReadingBody_NothingIsStored()
    {
        using var cache = new TestCache();
        var gate = new TaskCompletionSource();
        BlockingStream? source = null;
        cache.Stub.RespondInSequence(
            Url,
            StubResponse.Ok().WithStream(() => source = new BlockingStream(new byte[1000], gate.Task, new byte[1000])),
            StubResponse.Ok("second"));
        using var cts = new CancellationTokenSource();

        var pending = cache.Client.GetAsync(Url, cts.Token);
        await cache.Stub.WaitForCallsAsync(1);
        await Eventually.Until(() => source is not null, "the stub created the body stream");
        await source!.FirstPartServed;
        cts.Cancel();

        await FluentActions.Awaiting(() => pending).Should().ThrowAsync<OperationCanceledException>();
        gate.SetResult();
        (await cache.StoredCountAsync()).Should().Be(0);
        cache.Backend.InFlight.Should().BeEmpty();
        (await cache.Client.GetStringAsync(Url)).Should().Be("second");
    }

    [Test]
    public async Task Miss_CancelledWhileStreamingBody_NothingIsStored()
    {
        using var cache = new TestCache();
        var gate = new TaskCompletionSource();
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new BlockingStream(new byte[100], gate.Task, new byte[100])));
        using var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var cts = new CancellationTokenSource();
        await stream.ReadExactlyAsync(new byte[100]);

        var reading = ReadAllAsync(stream, cancellationToken: cts.Token);
        cts.Cancel();

        await FluentActions.Awaiting(() => reading).Should().ThrowAsync<OperationCanceledException>();
        gate.SetResult();
        (await cache.StoredCountAsync()).Should().Be(0);
    }

    [Test]
    public async Task Miss_ResponseDisposedBeforeBodyIsRead_NothingIsStored()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok().WithStream(() => new ChunkedStream(10_000)));

        using (var response = await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead))
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            await stream.ReadExactlyAsync(new byte[100]);
        }

        (await cache.StoredCountAsync()).Should().Be(0);
        cache.Backend.InFlight.Should().BeEmpty();
        await cache.Client.GetByteArrayAsync(Url);
        cache.Stub.TotalCalls.Should().Be(2);
    }

    [Test]
    public async Task Miss_EmptyBody_IsStoredWithoutBeingRead()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.Ok(string.Empty));

        using (await cache.Client.GetAsync(Url, HttpCompletionOption.ResponseHeadersRead))
        {
        }

        (await cache.StoredCountAsync()).Should().Be(1);
    }

    [Test]
    public async Task Miss_Head_IsStoredWithoutBeingRead()
    {
        using var cache = new TestCache();

        using (await cache.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Url), HttpCompletionOption.ResponseHeadersRead))
        {
        }

        using var hit = await cache.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Url));
        hit.IsFromCache().Should().BeTrue();
    }

    [Test]
    public async Task Miss_BinaryBody_IsStoredByteForByte()
    {
        using var cache = new TestCache();
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        cache.Stub.Respond(Url, StubResponse.Ok(bytes).WithContentType("application/octet-stream"));

        await cache.Client.GetByteArrayAsync(Url);
        var hit = await cache.Client.GetByteArrayAsync(Url);

        hit.Should().Equal(bytes);
        cache.Stub.TotalCalls.Should().Be(1);
    }

    [Test]
    public async Task Miss_StatusNotAllowed_BodyStillReachesCaller()
    {
        using var cache = new TestCache();
        cache.Stub.Respond(Url, StubResponse.WithStatus(HttpStatusCode.InternalServerError, "oops"));

        var (response, body) = await cache.GetAsync(Url);

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        body.Should().Be("oops");
    }

    private static IEnumerable<Exception> Unwrap(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
        }
    }
}
