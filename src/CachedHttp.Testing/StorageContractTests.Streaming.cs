using NUnit.Framework;

namespace CachedHttp.Testing;

/// <content>The streaming part of the contract: reading a head, reading as a stream, and (when supported) writing from a stream.</content>
public abstract partial class StorageContractTests
{
    private static byte[] RandomBytes(int length, int seed)
    {
        var value = new byte[length];
        new Random(seed).NextBytes(value);
        return value;
    }

    /// <summary>A value no larger than the limit is read whole by <see cref="BaseCache.ReadUpToAsync"/>; a missing key is null.</summary>
    [Test]
    public async Task ReadUpTo_SmallValue_IsReadWhole()
    {
        var storage = await NewStorageAsync();
        var value = RandomBytes(1000, 2);
        await storage.WriteAsync("k", value);

        var info = await storage.ReadUpToAsync("k", 4096, 100);

        Assert.That(info, Is.Not.Null);
        Assert.That(info!.Size, Is.EqualTo(1000));
        Assert.That(info.Head.ToArray(), Is.EqualTo(value));
        Assert.That(await storage.ReadUpToAsync("missing", 4096, 100), Is.Null);
    }

    /// <summary>A larger value gives its size and (at least) its head.</summary>
    [Test]
    public async Task ReadUpTo_LargeValue_GivesItsSizeAndHead()
    {
        var storage = await NewStorageAsync();
        var value = RandomBytes(70_000, 3);
        await storage.WriteAsync("k", value);

        var info = await storage.ReadUpToAsync("k", 1000, 100);

        Assert.That(info, Is.Not.Null);
        Assert.That(info!.Size, Is.EqualTo(70_000));
        Assert.That(info.Head.Length, Is.GreaterThanOrEqualTo(100));
        Assert.That(info.Head.ToArray(), Is.EqualTo(value[..info.Head.Length]));
        if (storage.SupportsStreaming)
        {
            Assert.That(info.Head.Length, Is.EqualTo(100), "a storage that streams reads only the head");
        }
    }

    /// <summary><see cref="BaseCache.OpenReadAsync"/> streams the value; a missing key is null.</summary>
    [Test]
    public async Task OpenRead_Value_StreamsItsBytes()
    {
        var storage = await NewStorageAsync();
        var value = RandomBytes(200_000, 4);
        await storage.WriteAsync("k", value);

        await using (var stream = await storage.OpenReadAsync("k"))
        {
            Assert.That(stream, Is.Not.Null);
            using var copy = new MemoryStream();
            await stream!.CopyToAsync(copy);
            Assert.That(copy.ToArray(), Is.EqualTo(value));
        }

        Assert.That(await storage.OpenReadAsync("missing"), Is.Null);
    }

    /// <summary>A value written through <see cref="BaseCache.OpenWriteAsync"/> appears only on commit, whole.</summary>
    [Test]
    public async Task OpenWrite_Committed_ReplacesTheValueOnlyThen()
    {
        var storage = await NewStorageAsync();
        if (!storage.SupportsStreaming)
        {
            Assert.ThrowsAsync<NotSupportedException>(async () => await storage.OpenWriteAsync("k"));
            return;
        }

        await storage.WriteAsync("k", RandomBytes(10, 5));
        var value = RandomBytes(300_000, 6);
        await using (var write = await storage.OpenWriteAsync("k"))
        {
            for (var offset = 0; offset < value.Length; offset += 65536)
            {
                await write.WriteAsync(value.AsMemory(offset, Math.Min(65536, value.Length - offset)));
            }

            Assert.That(await storage.ReadAsync("k"), Is.EqualTo(RandomBytes(10, 5)), "not visible before the commit");
            Assert.That(write.BytesWritten, Is.EqualTo(value.Length));
            await write.CommitAsync();
            Assert.That(write.IsCommitted, Is.True);
        }

        Assert.That(await storage.ReadAsync("k"), Is.EqualTo(value));
        Assert.That(await storage.CountAsync(), Is.EqualTo(1));
    }

    /// <summary>A streamed write disposed without a commit leaves the previous value and nothing else.</summary>
    [Test]
    public async Task OpenWrite_DisposedWithoutCommit_LeavesThePreviousValue()
    {
        var storage = await NewStorageAsync();
        if (!storage.SupportsStreaming)
        {
            Assert.Ignore("The storage does not stream.");
        }

        var previous = RandomBytes(100, 7);
        await storage.WriteAsync("k", previous);
        await using (var write = await storage.OpenWriteAsync("k"))
        {
            await write.WriteAsync(RandomBytes(100_000, 8));
        }

        await using (var empty = await storage.OpenWriteAsync("other"))
        {
        }

        Assert.That(await storage.ReadAsync("k"), Is.EqualTo(previous));
        Assert.That(await storage.ReadAsync("other"), Is.Null);
        Assert.That(await storage.CountAsync(), Is.EqualTo(1));
    }

    /// <summary>A streamed write honours its delete-after time like any write.</summary>
    [Test]
    public async Task OpenWrite_WithDeleteAfter_ExpiresLikeAWrite()
    {
        var storage = await NewStorageAsync();
        if (!storage.SupportsStreaming || ExpiresInRealTime)
        {
            Assert.Ignore("The storage does not stream, or expires in real time only.");
        }

        await using (var write = await storage.OpenWriteAsync("k", Time.GetUtcNow().AddMinutes(1)))
        {
            await write.WriteAsync(RandomBytes(1000, 9));
            await write.CommitAsync();
        }

        Assert.That(await storage.ReadAsync("k"), Is.Not.Null);
        Time.Advance(TimeSpan.FromMinutes(2));
        Assert.That(await storage.ReadAsync("k"), Is.Null);
        Assert.That(await storage.ReadUpToAsync("k", 10, 10), Is.Null);
    }
}
