using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit;

/// <summary>The in-memory storage; the full storage contract runs against every backend in the integration suite.</summary>
[Parallelizable(ParallelScope.All)]
public class InMemoryCacheTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    [Test]
    public async Task ReadAsync_WrittenKey_ReturnsTheBytes()
    {
        using var store = new InMemoryCache();

        await store.WriteAsync("k", new byte[] { 1, 2, 3 });

        (await store.ReadAsync("k")).Should().Equal(1, 2, 3);
        (await store.ReadAsync("missing")).Should().BeNull();
    }

    [Test]
    public async Task WriteAsync_SourceChangedAfterWrite_StoredValueUnchanged()
    {
        using var store = new InMemoryCache();
        var source = new byte[] { 1, 2, 3 };

        await store.WriteAsync("k", source);
        source[0] = 99;

        (await store.ReadAsync("k")).Should().Equal(1, 2, 3);
    }

    [Test]
    public async Task WriteAsync_ExistingKey_ReplacesTheValue()
    {
        using var store = new InMemoryCache();
        await store.WriteAsync("k", new byte[] { 1 });

        await store.WriteAsync("k", new byte[] { 2 });

        (await store.ReadAsync("k")).Should().Equal(2);
        (await store.CountAsync()).Should().Be(1);
    }

    [Test]
    public async Task ReadAsync_PastDeleteAfter_ReturnsNull()
    {
        var time = new FakeTimeProvider(Start);
        using var store = new InMemoryCache(time);
        await store.WriteAsync("k", new byte[] { 1 }, Start.AddMinutes(1));

        (await store.ReadAsync("k")).Should().NotBeNull();
        (await store.ContainsAsync("k")).Should().BeTrue();
        time.Advance(TimeSpan.FromMinutes(1));

        (await store.ReadAsync("k")).Should().BeNull();
        (await store.ContainsAsync("k")).Should().BeFalse();
        (await store.CountAsync()).Should().Be(0);
        (await ToListAsync(store.GetKeysAsync())).Should().BeEmpty();
    }

    [Test]
    public async Task DeleteAsync_Key_RemovesItOnce()
    {
        using var store = new InMemoryCache();
        await store.WriteAsync("k", new byte[] { 1 });

        (await store.DeleteAsync("k")).Should().BeTrue();
        (await store.DeleteAsync("k")).Should().BeFalse();
        (await store.ReadAsync("k")).Should().BeNull();
    }

    [Test]
    public async Task DeleteManyAsync_SomeMissing_CountsTheDeleted()
    {
        using var store = new InMemoryCache();
        await store.WriteAsync("a", new byte[] { 1 });
        await store.WriteAsync("b", new byte[] { 2 });
        await store.WriteAsync("c", new byte[] { 3 });

        (await store.DeleteManyAsync(["a", "b", "zzz"])).Should().Be(2);
        (await ToListAsync(store.GetKeysAsync())).Should().Equal("c");
    }

    [Test]
    public async Task GetEntriesAsync_Entries_ListsLiveOnes()
    {
        var time = new FakeTimeProvider(Start);
        using var store = new InMemoryCache(time);
        await store.WriteAsync("live", new byte[] { 1 });
        await store.WriteAsync("gone", new byte[] { 2 }, Start.AddSeconds(1));
        time.Advance(TimeSpan.FromSeconds(2));

        var entries = await ToListAsync(store.GetEntriesAsync());
        var values = await ToListAsync(store.GetValuesAsync());

        entries.Select(e => e.Key).Should().Equal("live");
        values.Should().ContainSingle().Which.Should().Equal(1);
    }

    [Test]
    public async Task DeleteExpiredAsync_PastDeleteAfter_RemovesAndCounts()
    {
        var time = new FakeTimeProvider(Start);
        using var store = new InMemoryCache(time);
        await store.WriteAsync("old1", new byte[] { 1 }, Start.AddSeconds(1));
        await store.WriteAsync("old2", new byte[] { 1 }, Start.AddSeconds(2));
        await store.WriteAsync("new", new byte[] { 1 }, Start.AddHours(1));
        await store.WriteAsync("forever", new byte[] { 1 });
        time.Advance(TimeSpan.FromMinutes(1));

        (await store.DeleteExpiredAsync()).Should().Be(2);
        (await store.CountAsync()).Should().Be(2);
    }

    [Test]
    public async Task ClearAsync_Entries_RemovesAll()
    {
        using var store = new InMemoryCache();
        await store.WriteAsync("a", new byte[] { 1 });
        await store.WriteAsync("b", new byte[] { 1 });

        await store.ClearAsync();

        (await store.CountAsync()).Should().Be(0);
    }

    [Test]
    public async Task WriteAsync_ConcurrentWriters_AllValuesStored()
    {
        using var store = new InMemoryCache();

        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), async (i, ct) => await store.WriteAsync("k" + i, BitConverter.GetBytes(i), cancellationToken: ct));

        (await store.CountAsync()).Should().Be(1000);
        (await store.ReadAsync("k500")).Should().Equal(BitConverter.GetBytes(500));
    }

    [Test]
    public void Name_Always_IsMemory()
    {
        using var store = new InMemoryCache();

        store.Name.Should().Be("memory");
        store.TimeProvider.Should().BeSameAs(TimeProvider.System);
    }

    [Test]
    public async Task ReadAsync_NullKey_Throws()
    {
        using var store = new InMemoryCache();

        await FluentActions.Awaiting(() => store.ReadAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>();
    }
}
