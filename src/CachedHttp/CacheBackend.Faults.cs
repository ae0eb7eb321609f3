using System.Diagnostics;
using CachedHttp.Internal;

namespace CachedHttp;

/// <content>Faults on the request path: the storage timeout and the circuit breaker (fail-open).</content>
public partial class CacheBackend
{
    private CircuitBreaker? _breaker;
    private TimeSpan? _storageTimeout;

    /// <summary>The circuit breaker of this backend's storage, shared by every handler; null when it is disabled.</summary>
    internal CircuitBreaker? Breaker => _breaker;

    /// <summary>
    /// Runs one storage operation of the request path, failing open: skipped when the circuit is open, abandoned at
    /// <see cref="CacheOptions.StorageTimeout"/> (even when the storage ignores its token), and every failure or timeout
    /// logged, counted, traced and reported to the circuit breaker instead of thrown.
    /// </summary>
    /// <param name="operation">The operation's name in logs, metrics and spans: <c>read</c>, <c>write</c>, <c>invalidate</c>.</param>
    /// <param name="state">The arguments of <paramref name="call"/> (a static lambda allocates nothing).</param>
    /// <param name="call">The storage operation.</param>
    /// <param name="cancellationToken">The caller's token: its cancellation is thrown as usual and counts as no failure.</param>
    /// <returns>Whether the operation succeeded, and its value when it did.</returns>
    /// <exception cref="OperationCanceledException">The caller cancelled.</exception>
    internal async ValueTask<(bool Succeeded, T? Value)> CallStorageAsync<TState, T>(
        string operation, TState state, Func<CacheBackend, TState, CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        var breaker = _breaker;
        var permit = breaker?.TryEnter() ?? CircuitPermit.Allowed;
        using var activity = CacheActivitySource.StartStorage(operation, Name);
        if (permit == CircuitPermit.Rejected)
        {
            Log.StorageSkipped(Logger, Name, operation);
            CacheMetrics.StorageSkipped(Name, operation);
            CacheActivitySource.AddEvent(activity, "cachedhttp.storage.skipped");
            return default;
        }

        if (permit == CircuitPermit.Trial)
        {
            Log.CircuitHalfOpen(Logger, Name, operation);
        }

        var started = Stopwatch.GetTimestamp();
        CancellationTokenSource? timeout = null;
        CancellationTokenRegistration callerCancellation = default;
        try
        {
            T value;
            if (_storageTimeout is not { } limit)
            {
                value = await call(this, state, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // The operation's token is cancelled at the timeout or by the caller. The timer belongs to the options'
                // clock, so that tests can drive it, and it (like the link to the caller's token) is set up only for an
                // operation that did not complete synchronously: an in-memory hit costs one small allocation.
                timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, Options.TimeProvider);
                var pending = call(this, state, timeout.Token);
                if (pending.IsCompleted)
                {
                    value = await pending.ConfigureAwait(false);
                }
                else
                {
                    timeout.CancelAfter(limit);
                    callerCancellation = cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout);
                    var task = pending.AsTask();
                    try
                    {
                        // A storage that ignores its token is not waited for past the timeout.
                        value = await task.WaitAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!task.IsCompleted)
                    {
                        // Abandoned: observe its eventual failure, so that it is not reported as an unobserved exception.
                        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        throw;
                    }
                }
            }

            if (breaker?.OnSuccess(permit) == CircuitTransition.Closed)
            {
                Log.CircuitClosed(Logger, Name);
                CacheMetrics.CircuitClosed(Name);
                CacheActivitySource.AddEvent(activity, "cachedhttp.circuit.closed");
            }

            return (true, value);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            // The caller cancelled, whatever the storage made of it: a cancellation, not a failure of the storage.
            breaker?.OnCancelled(permit);
            if (ex is OperationCanceledException canceled && canceled.CancellationToken == cancellationToken)
            {
                throw;
            }

            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
        catch (Exception ex)
        {
            if (timeout is { IsCancellationRequested: true })
            {
                Log.StorageTimedOut(Logger, Name, operation, _storageTimeout!.Value);
                CacheMetrics.StorageError(Name, operation, "timeout");
                CacheActivitySource.TimedOut(activity, _storageTimeout.Value);
            }
            else
            {
                Log.StorageFailed(Logger, ex, Name, operation);
                CacheMetrics.StorageError(Name, operation, "error");
                CacheActivitySource.Failed(activity, ex);
            }

            if (breaker?.OnFailure(permit) == CircuitTransition.Opened)
            {
                Log.CircuitOpened(Logger, Name, breaker.ConsecutiveFailures, breaker.BreakDuration);
                CacheMetrics.CircuitOpened(Name, wasClosed: permit != CircuitPermit.Trial);
                CacheActivitySource.AddEvent(activity, "cachedhttp.circuit.opened");
            }

            return default;
        }
        finally
        {
            callerCancellation.Dispose();
            timeout?.Dispose();
            CacheMetrics.Duration(Name, operation, started);
        }
    }

    /// <summary>Reads <see cref="CacheOptions.StorageTimeout"/> and <see cref="CacheOptions.CircuitBreaker"/> once, at construction.</summary>
    private void InitializeFaultHandling()
    {
        _storageTimeout = Options.StorageTimeout is { } timeout && timeout != Timeout.InfiniteTimeSpan ? timeout : null;
        _breaker = Options.CircuitBreaker.Enabled ? new CircuitBreaker(Options.CircuitBreaker, Options.TimeProvider) : null;
    }

    /// <summary>A disposed backend's open circuit no longer counts as open.</summary>
    private void ReleaseCircuit()
    {
        if (_breaker is { State: not CircuitState.Closed })
        {
            CacheMetrics.CircuitClosed(Name);
        }
    }
}
