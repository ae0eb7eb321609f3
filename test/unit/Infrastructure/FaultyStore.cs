using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CachedHttp.Internal;

namespace CachedHttp.Tests.Unit.Infrastructure;

/// <summary>How a <see cref="FaultyStore"/> behaves.</summary>
public enum StoreFault
{
    /// <summary>Works as an in-memory storage.</summary>
    None,

    /// <summary>Every call throws.</summary>
    Throws,

    /// <summary>Reads work, writes throw.</summary>
    WritesThrow,

    /// <summary>Every call hangs and ignores its cancellation token (until <see cref="FaultyStore.Release"/>).</summary>
    Hangs,

    /// <summary>Every call hangs until its cancellation token is cancelled.</summary>
    HangsUntilCancelled,
}

/// <summary>
/// An in-memory storage whose reads, writes and deletes can be made to throw or hang, and that counts them. Named
/// uniquely, so that a test can pick out its own metrics from the process-wide meter.
/// </summary>
public sealed class FaultyStore(TimeProvider? timeProvider = null, string? name = null) : InMemoryCache(timeProvider)
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<CancellationToken> _tokens = new();
    private int _calls;
    private volatile StoreFault _fault;

    public override string Name { get; } = name ?? "faulty-" + Guid.NewGuid().ToString("N")[..12];

    public StoreFault Fault
    {
        get => _fault;
        set => _fault = value;
    }

    /// <summary>Gets how many reads, writes and deletes were made (whatever their outcome).</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Gets the tokens that hanging calls received.</summary>
    public IReadOnlyList<CancellationToken> HungTokens => [.. _tokens];

    /// <summary>Lets every call that hangs (and ignores its token) complete, with an exception.</summary>
    public void Release() => _released.TrySetResult();

    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
        => Enter(cancellationToken, isWrite: false) is { } fault ? AsValue<byte[]?>(fault) : base.ReadAsync(key, cancellationToken);

    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
        => Enter(cancellationToken, isWrite: true) is { } fault ? new ValueTask(fault) : base.WriteAsync(key, value, deleteAfter, cancellationToken);

    public override ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        => Enter(cancellationToken, isWrite: true) is { } fault ? AsValue<bool>(fault) : base.DeleteAsync(key, cancellationToken);

    public override ValueTask ClearAsync(CancellationToken cancellationToken = default)
        => Enter(cancellationToken, isWrite: true) is { } fault ? new ValueTask(fault) : base.ClearAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        Release();
        base.Dispose(disposing);
    }

    private static async ValueTask<T> AsValue<T>(Task fault)
    {
        await fault;
        throw new InvalidOperationException("unreachable: a fault never completes successfully");
    }

    /// <summary>Counts the call; returns the task of its fault, or null when it should work.</summary>
    private Task? Enter(CancellationToken cancellationToken, bool isWrite)
    {
        Interlocked.Increment(ref _calls);
        switch (_fault)
        {
            case StoreFault.Throws:
            case StoreFault.WritesThrow when isWrite:
                return Task.FromException(new IOException("storage is down"));
            case StoreFault.Hangs:
                _tokens.Enqueue(cancellationToken);
                return _released.Task.ContinueWith(_ => throw new IOException("released after hanging"), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            case StoreFault.HangsUntilCancelled:
                _tokens.Enqueue(cancellationToken);
                return Task.Delay(Timeout.Infinite, cancellationToken);
            default:
                return null;
        }
    }
}

/// <summary>Records what the CachedHttp meter reports for one backend name (the meter is process-wide and tests run in parallel).</summary>
public sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)> _measurements = new();

    public MetricsRecorder(string backend)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CacheMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            if (copy.TryGetValue("backend", out var name) && (string?)name == backend)
            {
                _measurements.Enqueue((instrument.Name, value, copy));
            }
        });
        _listener.Start();
    }

    /// <summary>The sum of an instrument's measurements whose tags include every given tag.</summary>
    public long Sum(string instrument, params (string Key, string Value)[] tags)
        => _measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && (string?)v == t.Value)).Sum(m => m.Value);

    /// <summary>The values of one tag of an instrument's measurements, in order.</summary>
    public IReadOnlyList<string?> Tags(string instrument, string tag)
        => _measurements.Where(m => m.Instrument == instrument).Select(m => m.Tags.TryGetValue(tag, out var v) ? v as string : null).ToList();

    public void Dispose() => _listener.Dispose();
}
