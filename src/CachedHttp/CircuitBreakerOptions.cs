namespace CachedHttp;

/// <summary>
/// The circuit breaker in front of a <see cref="CacheBackend"/>'s storage: after <see cref="FailureThreshold"/>
/// consecutive failed (or timed-out) storage calls the circuit opens, and for <see cref="BreakDuration"/> requests skip
/// the storage entirely and go to the network. Then one trial call is let through (half-open): the circuit closes when
/// it succeeds and opens again for another <see cref="BreakDuration"/> when it fails.
/// </summary>
/// <remarks>
/// <para>
/// The breaker belongs to the backend, so every session and handler that shares a backend shares its state. It
/// counts <em>consecutive</em> failures, not a failure ratio: a storage that is down fails every call and opens the
/// circuit after a few requests whatever the traffic, and any successful call resets the count. Only the storage calls
/// a request makes (lookup, save, invalidation, revalidation) count and are skipped; calls made directly on the
/// backend (<see cref="CacheBackend.ClearAsync"/>, <see cref="CacheBackend.DeleteAsync(string, CancellationToken)"/>, …) are never skipped and
/// throw as usual. A call that the caller cancels counts neither way.
/// </para>
/// <para>A backend reads these options once, when it is constructed; change them before building the backend.</para>
/// </remarks>
public sealed class CircuitBreakerOptions
{
    /// <summary>Gets or sets a value indicating whether the circuit breaker is on. When off, every request calls the storage.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Gets or sets how many consecutive storage calls must fail or time out for the circuit to open. A request makes
    /// at most one failed call: once a call fails, the rest of that request skips the storage.
    /// </summary>
    /// <value>The default value is 5.</value>
    public int FailureThreshold { get; set; } = 5;

    /// <summary>Gets or sets how long the circuit stays open (the storage skipped) before one trial call is let through.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Copies these options.</summary>
    public CircuitBreakerOptions Clone() => new()
    {
        Enabled = Enabled,
        FailureThreshold = FailureThreshold,
        BreakDuration = BreakDuration,
    };

    /// <summary>Checks these options as part of <see cref="CacheOptions.Validate"/>.</summary>
    internal void Validate(string option)
    {
        Require(FailureThreshold >= 1, option + "." + nameof(FailureThreshold), $"must be at least 1, not {FailureThreshold}");
        Require(BreakDuration > TimeSpan.Zero, option + "." + nameof(BreakDuration), $"must be positive, not {BreakDuration}");
    }

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"CacheOptions.{option} {problem}.", option);
        }
    }
}
