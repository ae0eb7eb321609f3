using System.Collections.Concurrent;

namespace CachedHttp.Internal;

/// <summary>The outcome of a shared origin request, as seen by the callers that waited for it.</summary>
internal sealed record FlightResult(CachedResponse? Response, Exception? Error)
{
    /// <summary>The leader could not share a result (cancelled, body too large, abandoned): waiters try again.</summary>
    public static readonly FlightResult Retry = new(null, null);
}

/// <summary>One origin request that identical concurrent requests wait for (request coalescing).</summary>
internal sealed class InFlight
{
    private readonly TaskCompletionSource<FlightResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, InFlight> _registry;
    private readonly string _key;

    private InFlight(ConcurrentDictionary<string, InFlight> registry, string key)
    {
        _registry = registry;
        _key = key;
    }

    public Task<FlightResult> Result => _completion.Task;

    /// <summary>Joins the flight for <paramref name="key"/>, or starts one (then <paramref name="isLeader"/> is true).</summary>
    public static InFlight Join(ConcurrentDictionary<string, InFlight> registry, string key, out bool isLeader)
    {
        var candidate = new InFlight(registry, key);
        var flight = registry.GetOrAdd(key, candidate);
        isLeader = ReferenceEquals(flight, candidate);
        return flight;
    }

    /// <summary>Ends the flight (first call wins) and removes it from the registry so that no entry outlives it.</summary>
    public void Complete(FlightResult result)
    {
        _registry.TryRemove(new KeyValuePair<string, InFlight>(_key, this));
        _completion.TrySetResult(result);
    }
}
