using System.Diagnostics;

namespace CachedHttp.Internal;

/// <summary>
/// The one <see cref="ActivitySource"/> of the library, named <c>CachedHttp</c>: a span around each storage operation
/// of a request (<c>cachedhttp.storage.read</c>, <c>cachedhttp.storage.write</c>), tagged <c>backend</c> and
/// <c>operation</c> like the storage metrics, with an error status and an <c>error.type</c> tag when it fails. Events
/// mark a timeout (<c>cachedhttp.storage.timeout</c>), a call skipped because the circuit is open
/// (<c>cachedhttp.storage.skipped</c>), and the call that opened or closed the circuit (<c>cachedhttp.circuit.opened</c>,
/// <c>cachedhttp.circuit.closed</c>).
/// </summary>
/// <remarks>Starting a span costs nothing when no listener samples the source.</remarks>
internal static class CacheActivitySource
{
    public const string Name = "CachedHttp";

    public const string ReadActivityName = "cachedhttp.storage.read";

    public const string WriteActivityName = "cachedhttp.storage.write";

    public static readonly ActivitySource Source = new(Name, typeof(CacheActivitySource).Assembly.GetName().Version?.ToString());

    /// <summary>Starts a storage span, or returns <see langword="null"/> when nobody listens.</summary>
    /// <param name="operation"><c>read</c> or <c>write</c>.</param>
    /// <param name="storage">The backend's storage name, as in the metrics' <c>backend</c> tag.</param>
    public static Activity? StartStorage(string operation, string storage)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(operation == "read" ? ReadActivityName : WriteActivityName, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("backend", storage);
            activity.SetTag("operation", operation);
        }

        return activity;
    }

    /// <summary>Marks a storage span as abandoned at the timeout: status Error, <c>error.type</c> <see cref="TimeoutException"/>, and a <c>cachedhttp.storage.timeout</c> event.</summary>
    public static void TimedOut(Activity? activity, TimeSpan timeout)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, "timeout");
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("error.type", typeof(TimeoutException).FullName);
            activity.AddEvent(new ActivityEvent("cachedhttp.storage.timeout", tags: new ActivityTagsCollection { ["timeout.seconds"] = timeout.TotalSeconds }));
        }
    }

    /// <summary>Adds an event without tags to a storage span: <c>cachedhttp.storage.skipped</c>, <c>cachedhttp.circuit.opened</c>, <c>cachedhttp.circuit.closed</c>.</summary>
    public static void AddEvent(Activity? activity, string name)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.AddEvent(new ActivityEvent(name));
        }
    }

    /// <summary>Marks a storage span as failed (OpenTelemetry: status Error and <c>error.type</c>).</summary>
    public static void Failed(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("error.type", exception.GetType().FullName);
        }
    }
}
