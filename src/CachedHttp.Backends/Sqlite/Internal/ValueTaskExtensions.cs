namespace CachedHttp.Sqlite.Internal;

internal static class ValueTaskExtensions
{
    /// <summary>Drops the result of a value task without allocating when it has already succeeded.</summary>
    public static ValueTask AsNonGeneric<T>(this ValueTask<T> task)
        => task.IsCompletedSuccessfully ? ValueTask.CompletedTask : new ValueTask(task.AsTask());
}
