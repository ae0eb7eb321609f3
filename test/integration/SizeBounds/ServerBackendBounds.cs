using CachedHttp.Testing;

namespace CachedHttp.Tests.Integration.SizeBounds;

/// <summary>
/// What every server backend (Redis, MongoDB, DynamoDB) must do with the size options: reject MaxEntries and MaxBytes at
/// construction, naming the option (they have their own eviction), and honour MaxEntryBytes.
/// </summary>
internal static class ServerBackendBounds
{
    public const long MaxEntryBytes = 2000;

    /// <summary>Constructs the backend with MaxEntries, then MaxBytes, and expects an ArgumentException naming each.</summary>
    public static void RejectsMaxEntriesAndMaxBytes(Func<CacheOptions, CacheBackend> create, string storage)
    {
        foreach (var (option, options) in new[]
        {
            (nameof(CacheOptions.MaxEntries), new CacheOptions { MaxEntries = 100 }),
            (nameof(CacheOptions.MaxBytes), new CacheOptions { MaxBytes = 1_000_000 }),
        })
        {
            var act = () => create(options);

            act.Should().Throw<ArgumentException>()
                .Which.Should().Match<ArgumentException>(
                    e => e.ParamName == option && e.Message.Contains("CacheOptions." + option) && e.Message.Contains(storage) && e.Message.Contains("MaxEntryBytes"),
                    $"{storage} has its own eviction and cannot enforce {option}");
        }
    }

    /// <summary>Through a session on the real origin: a response whose entry is over MaxEntryBytes is served every time but not stored; a small one is stored.</summary>
    public static async Task HonoursMaxEntryBytesAsync(TestOrigin origin, Func<CacheOptions, CacheBackend> create)
    {
        var seed = Random.Shared.Next(1, int.MaxValue);
        using var backend = create(new CacheOptions { MaxEntryBytes = MaxEntryBytes, AutoClose = false });
        using var session = new CachedSession(backend) { BaseAddress = origin.BaseAddress };
        var large = $"/bytes/5000?seed={seed}";
        var small = $"/bytes/20?seed={seed}";

        for (var i = 0; i < 2; i++)
        {
            using var response = await session.GetAsync(large);
            (await response.Content.ReadAsByteArrayAsync()).Should().Equal(TestOrigin.ExpectedBytes(5000, seed));
            response.IsFromCache().Should().BeFalse("an entry over MaxEntryBytes is not stored");
        }

        using (var first = await session.GetAsync(small))
        {
            first.IsFromCache().Should().BeFalse();
        }

        using (var second = await session.GetAsync(small))
        {
            second.IsFromCache().Should().BeTrue("a small entry is stored");
            (await second.Content.ReadAsByteArrayAsync()).Should().Equal(TestOrigin.ExpectedBytes(20, seed));
        }

        (await backend.Responses.CountAsync()).Should().Be(1);
    }
}
