using System.Text;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace CachedHttp.Testing;

/// <summary>
/// The storage contract every <see cref="BaseCache"/> must pass. Subclass it once per storage engine and
/// implement <see cref="CreateStorageAsync"/>; add <c>[TestFixture]</c> to the subclass.
/// </summary>
/// <remarks>
/// Each test gets a fresh, empty storage. A storage that needs a server it cannot reach should call
/// <see cref="Assert.Ignore(string)"/> from <see cref="CreateStorageAsync"/> with the reason.
/// </remarks>
public abstract partial class StorageContractTests
{
    private readonly List<BaseCache> _created = [];

    /// <summary>Gets the fake clock passed to the storage (start: 2026-01-01 UTC).</summary>
    protected FakeTimeProvider Time { get; private set; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>
    /// Gets a value indicating whether the storage expires entries with the real clock only (a native TTL that a fake
    /// clock cannot drive). The delete-after tests then wait in real time (about 3 seconds).
    /// </summary>
    protected virtual bool ExpiresInRealTime => false;

    /// <summary>Creates a new, empty storage that uses <paramref name="timeProvider"/> as its clock.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="name">A name unique to this test (a table, prefix or folder name can be derived from it).</param>
    protected abstract ValueTask<BaseCache> CreateStorageAsync(TimeProvider timeProvider, string name);

    /// <summary>Resets the clock before each test.</summary>
    [SetUp]
    public void ResetClock() => Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Disposes the storages created by the test.</summary>
    [TearDown]
    public async Task DisposeStorages()
    {
        foreach (var storage in _created)
        {
            try
            {
                await storage.ClearAsync();
            }
            finally
            {
                await storage.DisposeAsync();
            }
        }

        _created.Clear();
    }

    /// <summary>Creates a storage and registers it for disposal.</summary>
    protected async Task<BaseCache> NewStorageAsync()
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..12];
        var storage = await CreateStorageAsync(ExpiresInRealTime ? TimeProvider.System : Time, name);
        _created.Add(storage);
        return storage;
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A written value reads back the same.</summary>
    [Test]
    public async Task Write_ThenRead_ReturnsSameBytes()
    {
        var storage = await NewStorageAsync();
        var value = new byte[70_000];
        new Random(1).NextBytes(value);
        await storage.WriteAsync("k1", value);
        var read = await storage.ReadAsync("k1");
        Assert.That(read, Is.EqualTo(value));
    }

    /// <summary>A missing key reads as null and is not contained.</summary>
    [Test]
    public async Task Read_MissingKey_ReturnsNull()
    {
        var storage = await NewStorageAsync();
        Assert.That(await storage.ReadAsync("missing"), Is.Null);
        Assert.That(await storage.ContainsAsync("missing"), Is.False);
    }

    /// <summary>Writing a key again replaces its value.</summary>
    [Test]
    public async Task Write_ExistingKey_ReplacesValue()
    {
        var storage = await NewStorageAsync();
        await storage.WriteAsync("k", Bytes("one"));
        await storage.WriteAsync("k", Bytes("two"));
        Assert.That(await storage.ReadAsync("k"), Is.EqualTo(Bytes("two")));
        Assert.That(await storage.CountAsync(), Is.EqualTo(1));
    }

    /// <summary>An empty value is stored and distinct from a missing one.</summary>
    [Test]
    public async Task Write_EmptyValue_ReadsBackEmpty()
    {
        var storage = await NewStorageAsync();
        await storage.WriteAsync("empty", ReadOnlyMemory<byte>.Empty);
        var read = await storage.ReadAsync("empty");
        Assert.That(read, Is.Not.Null);
        Assert.That(read, Is.Empty);
    }

    /// <summary>Delete removes a key and reports whether it existed.</summary>
    [Test]
    public async Task Delete_RemovesKey_AndReportsWhetherItExisted()
    {
        var storage = await NewStorageAsync();
        await storage.WriteAsync("k", Bytes("v"));
        Assert.That(await storage.DeleteAsync("k"), Is.True);
        Assert.That(await storage.ReadAsync("k"), Is.Null);
        Assert.That(await storage.DeleteAsync("k"), Is.False);
    }

    /// <summary>Bulk delete removes the given keys, ignores missing ones and leaves the others.</summary>
    [Test]
    public async Task DeleteMany_IgnoresMissingKeys_AndKeepsOthers()
    {
        var storage = await NewStorageAsync();
        for (var i = 0; i < 1200; i++)
        {
            await storage.WriteAsync($"k{i}", Bytes($"v{i}"));
        }

        var toDelete = Enumerable.Range(0, 1100).Select(i => $"k{i}").Append("not-there").ToList();
        var deleted = await storage.DeleteManyAsync(toDelete);
        Assert.That(deleted, Is.InRange(1100, 1101));
        Assert.That(await storage.CountAsync(), Is.EqualTo(100));
        Assert.That(await storage.ReadAsync("k1150"), Is.EqualTo(Bytes("v1150")));
        Assert.That(await storage.ReadAsync("k5"), Is.Null);
    }

    /// <summary>Keys, entries and values enumerate exactly what is stored.</summary>
    [Test]
    public async Task Enumerations_ListEveryStoredEntry()
    {
        var storage = await NewStorageAsync();
        var expected = new Dictionary<string, string>();
        for (var i = 0; i < 25; i++)
        {
            expected[$"key-{i}"] = $"value-{i}";
            await storage.WriteAsync($"key-{i}", Bytes($"value-{i}"));
        }

        var keys = new List<string>();
        await foreach (var key in storage.GetKeysAsync())
        {
            keys.Add(key);
        }

        var entries = new Dictionary<string, string>();
        await foreach (var entry in storage.GetEntriesAsync())
        {
            entries[entry.Key] = Encoding.UTF8.GetString(entry.Value);
        }

        var values = new List<string>();
        await foreach (var value in storage.GetValuesAsync())
        {
            values.Add(Encoding.UTF8.GetString(value));
        }

        Assert.That(keys, Is.EquivalentTo(expected.Keys));
        Assert.That(entries, Is.EquivalentTo(expected));
        Assert.That(values, Is.EquivalentTo(expected.Values));
        Assert.That(await storage.CountAsync(), Is.EqualTo(25));
    }

    /// <summary>Clear removes everything of this storage.</summary>
    [Test]
    public async Task Clear_RemovesEverything()
    {
        var storage = await NewStorageAsync();
        for (var i = 0; i < 30; i++)
        {
            await storage.WriteAsync($"k{i}", Bytes("v"));
        }

        await storage.ClearAsync();
        Assert.That(await storage.CountAsync(), Is.EqualTo(0));
        Assert.That(await storage.ReadAsync("k3"), Is.Null);
    }

    /// <summary>Two storages with different names do not see each other's keys, and clearing one keeps the other.</summary>
    [Test]
    public async Task TwoStorages_AreIsolated()
    {
        var first = await NewStorageAsync();
        var second = await NewStorageAsync();
        await first.WriteAsync("same", Bytes("first"));
        await second.WriteAsync("same", Bytes("second"));
        await first.ClearAsync();
        Assert.That(await first.ReadAsync("same"), Is.Null);
        Assert.That(await second.ReadAsync("same"), Is.EqualTo(Bytes("second")));
    }

    /// <summary>A value past its delete-after time is gone; one without is kept.</summary>
    [Test]
    public async Task DeleteAfter_IsHonoured()
    {
        var storage = await NewStorageAsync();
        var clock = ExpiresInRealTime ? TimeProvider.System : Time;
        await storage.WriteAsync("short", Bytes("v"), clock.GetUtcNow().AddSeconds(2));
        await storage.WriteAsync("long", Bytes("v"), clock.GetUtcNow().AddHours(1));
        await storage.WriteAsync("forever", Bytes("v"));
        Assert.That(await storage.ReadAsync("short"), Is.Not.Null);

        if (ExpiresInRealTime)
        {
            await Task.Delay(TimeSpan.FromSeconds(3.2));
        }
        else
        {
            Time.Advance(TimeSpan.FromSeconds(3));
        }

        await storage.DeleteExpiredAsync();
        Assert.That(await storage.ReadAsync("short"), Is.Null);
        Assert.That(await storage.ContainsAsync("short"), Is.False);
        Assert.That(await storage.ReadAsync("long"), Is.Not.Null);
        Assert.That(await storage.ReadAsync("forever"), Is.Not.Null);
        Assert.That(await storage.CountAsync(), Is.EqualTo(2));
    }

    /// <summary>Many concurrent writers and readers neither fail nor lose writes.</summary>
    [Test]
    public async Task ConcurrentWritesAndReads_LoseNothing()
    {
        var storage = await NewStorageAsync();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            await storage.WriteAsync($"c{i}", Bytes($"v{i}"));
            var read = await storage.ReadAsync($"c{i}");
            Assert.That(read, Is.EqualTo(Bytes($"v{i}")));
        }));
        Assert.That(await storage.CountAsync(), Is.EqualTo(200));
    }

    /// <summary>Keys with characters that are special to file systems, SQL or Redis are stored as given.</summary>
    [Test]
    public async Task Keys_WithSpecialCharacters_RoundTrip()
    {
        var storage = await NewStorageAsync();
        string[] keys = ["../../etc/passwd", "a:b*c?", "sp ace", "quote'\"", "ünïcödé", "percent%20", new string('x', 200)];
        foreach (var key in keys)
        {
            await storage.WriteAsync(key, Bytes(key));
        }

        foreach (var key in keys)
        {
            Assert.That(await storage.ReadAsync(key), Is.EqualTo(Bytes(key)), key);
        }

        Assert.That(await storage.CountAsync(), Is.EqualTo(keys.Length));
    }
}
