using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace CachedHttp.Tests.Integration.Observability;

/// <summary>One measurement of the CachedHttp meter.</summary>
public sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public string? Tag(string name) => Tags.TryGetValue(name, out var value) ? value?.ToString() : null;
}

/// <summary>
/// Records what the <c>CachedHttp</c> meter reports. A MeterListener sees every meter in the process, and tests run
/// in parallel, so each test reads only the measurements tagged with its own unique backend name.
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Measurement> _measurements = new();

    public MetricsCollector()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "CachedHttp")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public IReadOnlyList<Measurement> For(string instrument, string backend)
        => _measurements.Where(m => m.Instrument == instrument && m.Tag("backend") == backend).ToList();

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue(new Measurement(instrument.Name, value, copy));
    }
}

/// <summary>Records the spans of the <c>CachedHttp</c> activity source.</summary>
public sealed class ActivityCollector : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _activities = new();

    public ActivityCollector()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "CachedHttp",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _activities.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> For(string backend)
        => _activities.Where(a => a.GetTagItem("backend") as string == backend).ToList();

    public void Dispose() => _listener.Dispose();
}

/// <summary>A logger factory that keeps every entry.</summary>
public sealed class LogCollector : ILoggerFactory, ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}

/// <summary>In-memory storage under a unique name, so that a test can pick out its own metrics and spans.</summary>
public sealed class NamedMemoryCache(string name, TimeProvider? timeProvider = null) : InMemoryCache(timeProvider)
{
    public override string Name => name;
}

/// <summary>Storage whose every operation throws: the cache must fail open.</summary>
public sealed class FailingCache(string name) : BaseCache
{
    public override string Name => name;

    public override ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
        => throw new IOException("storage is down");

    public override ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
        => throw new IOException("storage is down");

    public override ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        => throw new IOException("storage is down");

    public override async IAsyncEnumerable<string> GetKeysAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        throw new IOException("storage is down");
#pragma warning disable CS0162 // an iterator needs a yield
        yield break;
#pragma warning restore CS0162
    }

    public override ValueTask ClearAsync(CancellationToken cancellationToken = default)
        => throw new IOException("storage is down");
}

/// <summary>Storage whose reads and writes never complete and ignore their token: only the storage timeout ends them.</summary>
public sealed class HangingCache(string name) : BaseCache
{
    private static readonly TaskCompletionSource Never = new();

    public override string Name => name;

    public override async ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        await Never.Task;
        return null;
    }

    public override async ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
        => await Never.Task;

    public override async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        await Never.Task;
        return false;
    }

    public override IAsyncEnumerable<string> GetKeysAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override ValueTask ClearAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
}
