using System.Runtime.CompilerServices;

namespace CachedHttp.Tests.Unit.Infrastructure;

/// <summary>An <see cref="InMemoryCache"/> that counts reads and writes and remembers whether it was disposed.</summary>
public sealed class CountingStore(TimeProvider? timeProvider = null) : InMemoryCache(timeProvider)
{
    private int _reads;
    private int _writes;

    public int Reads => Volatile.Read(ref _reads);

    public int Writes => Volatile.Read(ref _writes);

    public bool IsDisposed { get; private set; }

    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        return base.ReadAsync(key, cancellationToken);
    }

    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        return base.WriteAsync(key, value, deleteAfter, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        IsDisposed = true;
        base.Dispose(disposing);
    }
}

/// <summary>A storage whose every operation throws: the storage is down.</summary>
public sealed class ThrowingStore : BaseCache
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default) => throw Fail();

    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default) => throw Fail();

    public override ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => throw Fail();

    public override ValueTask<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => throw Fail();

    public override ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default) => throw Fail();

#pragma warning disable CS1998, CS0162
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        throw Fail();
        yield break;
    }
#pragma warning restore CS1998, CS0162

    public override ValueTask ClearAsync(CancellationToken cancellationToken = default) => throw Fail();

    private InvalidOperationException Fail()
    {
        Interlocked.Increment(ref _calls);
        return new InvalidOperationException("storage is down");
    }
}
