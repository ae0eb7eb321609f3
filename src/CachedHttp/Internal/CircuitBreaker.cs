namespace CachedHttp.Internal;

/// <summary>What the breaker allows a storage call to do.</summary>
internal enum CircuitPermit
{
    /// <summary>The circuit is open (or a trial call is in flight): do not call the storage.</summary>
    Rejected,

    /// <summary>The circuit is closed: call the storage.</summary>
    Allowed,

    /// <summary>The break is over: this call is the one trial that decides whether the circuit closes.</summary>
    Trial,
}

/// <summary>A change of the circuit's state caused by the outcome of a call, for the caller to log and count.</summary>
internal enum CircuitTransition
{
    None,

    /// <summary>The circuit went from closed to open, or from half-open back to open after a failed trial.</summary>
    Opened,

    /// <summary>The trial call succeeded: the circuit is closed again.</summary>
    Closed,
}

/// <summary>The state of a <see cref="CircuitBreaker"/>.</summary>
internal enum CircuitState
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>
/// A consecutive-failures circuit breaker (closed → open → half-open → closed or open again), owned by one
/// <see cref="CacheBackend"/> and shared by every handler that uses it. Thread-safe.
/// </summary>
/// <remarks>
/// A closed circuit with no recent failure is checked and updated without a lock (the path of every healthy request);
/// state changes take a small lock. Time comes from the options' <see cref="TimeProvider"/>. Only the trial call's
/// outcome moves a half-open circuit: a call that started while the circuit was closed and finishes late is ignored.
/// </remarks>
internal sealed class CircuitBreaker(CircuitBreakerOptions options, TimeProvider timeProvider)
{
    private readonly object _lock = new();
    private readonly int _threshold = options.FailureThreshold;
    private readonly TimeSpan _breakDuration = options.BreakDuration;
    private int _state; // a CircuitState
    private int _failures;
    private DateTimeOffset _openedAt;
    private DateTimeOffset? _trialStartedAt;

    /// <summary>Gets the current state.</summary>
    public CircuitState State => (CircuitState)Volatile.Read(ref _state);

    /// <summary>Gets the number of consecutive failed calls.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _failures);

    /// <summary>Gets how long the circuit stays open before a trial call.</summary>
    public TimeSpan BreakDuration => _breakDuration;

    /// <summary>Decides whether a storage call may be made now.</summary>
    public CircuitPermit TryEnter()
    {
        if (Volatile.Read(ref _state) == (int)CircuitState.Closed)
        {
            return CircuitPermit.Allowed;
        }

        lock (_lock)
        {
            var now = timeProvider.GetUtcNow();
            switch ((CircuitState)_state)
            {
                case CircuitState.Closed:
                    return CircuitPermit.Allowed;
                case CircuitState.Open when now - _openedAt >= _breakDuration:
                    _state = (int)CircuitState.HalfOpen;
                    _trialStartedAt = now;
                    return CircuitPermit.Trial;

                // A trial that never reports (the storage hangs and no timeout is set) does not hold the circuit for ever.
                case CircuitState.HalfOpen when _trialStartedAt is not { } started || now - started >= _breakDuration:
                    _trialStartedAt = now;
                    return CircuitPermit.Trial;
                default:
                    return CircuitPermit.Rejected;
            }
        }
    }

    /// <summary>Records a call that succeeded.</summary>
    public CircuitTransition OnSuccess(CircuitPermit permit)
    {
        if (permit != CircuitPermit.Trial)
        {
            if (Volatile.Read(ref _failures) != 0 && Volatile.Read(ref _state) == (int)CircuitState.Closed)
            {
                lock (_lock)
                {
                    if (_state == (int)CircuitState.Closed)
                    {
                        _failures = 0;
                    }
                }
            }

            return CircuitTransition.None;
        }

        lock (_lock)
        {
            if (_state != (int)CircuitState.HalfOpen)
            {
                return CircuitTransition.None;
            }

            _failures = 0;
            _trialStartedAt = null;
            Volatile.Write(ref _state, (int)CircuitState.Closed);
            return CircuitTransition.Closed;
        }
    }

    /// <summary>Records a call that failed or timed out.</summary>
    public CircuitTransition OnFailure(CircuitPermit permit)
    {
        lock (_lock)
        {
            switch ((CircuitState)_state)
            {
                case CircuitState.Closed:
                    _failures++;
                    if (_failures < _threshold)
                    {
                        return CircuitTransition.None;
                    }

                    break;
                case CircuitState.HalfOpen when permit == CircuitPermit.Trial:
                    _failures++;
                    break;
                default:
                    return CircuitTransition.None;
            }

            _openedAt = timeProvider.GetUtcNow();
            _trialStartedAt = null;
            Volatile.Write(ref _state, (int)CircuitState.Open);
            return CircuitTransition.Opened;
        }
    }

    /// <summary>Records a call that the caller cancelled: it says nothing about the storage, so a trial may be made again at once.</summary>
    public void OnCancelled(CircuitPermit permit)
    {
        if (permit != CircuitPermit.Trial)
        {
            return;
        }

        lock (_lock)
        {
            if (_state == (int)CircuitState.HalfOpen)
            {
                _trialStartedAt = null;
            }
        }
    }
}
