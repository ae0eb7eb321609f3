using StackExchange.Redis;

namespace CachedHttp.Redis.Internal;

/// <summary>Bounds a Redis call by <see cref="RedisCacheOptions.OperationTimeout"/>, whatever the connection's own timeouts.</summary>
internal static class RedisOperation
{
    /// <summary>Awaits <paramref name="task"/> for at most <paramref name="timeout"/> of real time.</summary>
    /// <exception cref="TimeoutException">The call did not complete in time.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <remarks>
    /// StackExchange.Redis cannot cancel a command once issued; a timed-out or cancelled call keeps running and its
    /// outcome is observed and dropped. The timeout uses the real clock on purpose: a fake clock of the cache must not
    /// stop network timeouts.
    /// </remarks>
    public static async Task<T> WithTimeout<T>(Task<T> task, TimeSpan timeout, string operation, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            Observe(task);
            throw new TimeoutException(
                $"The Redis {operation} did not complete within {timeout.TotalMilliseconds:0} ms (RedisCacheOptions.OperationTimeout).");
        }
        catch (OperationCanceledException) when (!task.IsCompleted)
        {
            Observe(task);
            throw;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The connection aborted the command (a connection failure under BacklogPolicy.FailFast): a storage failure,
            // not a cancellation the caller asked for, so it must not look like one.
            throw new RedisConnectionException(ConnectionFailureType.SocketFailure, $"The Redis {operation} was aborted by the connection.", ex);
        }
    }

    /// <summary>Marks a failure of an abandoned call as observed, so it is not reported as an unobserved task exception.</summary>
    private static void Observe(Task task)
        => task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
