using CachedHttp.Internal;

namespace CachedHttp;

/// <content>Large bodies: a response body over <see cref="CacheOptions.StreamingThreshold"/> is stored while the caller reads it.</content>
public partial class CachingHandler
{
    /// <summary>
    /// Where the body of a response being stored streams when it is large, or null when it cannot stream (the storage
    /// cannot, the entries are encrypted, the body would be compressed, or the response has Vary).
    /// </summary>
    private StreamingTarget? StreamingFor(string key, CachedResponse candidate, DateTimeOffset? deleteAfter, InFlight? flight)
    {
        if (!Cache.CanStreamStore(candidate))
        {
            return null;
        }

        async ValueTask<StreamedStore?> StartAsync(CancellationToken cancellationToken)
        {
            // The filter sees the response without its body (it is not held): decided before anything is written.
            return await PassesFilterSafeAsync(candidate).ConfigureAwait(false)
                ? await Cache.BeginStreamedStoreAsync(key, candidate, deleteAfter, cancellationToken).ConfigureAwait(false)
                : null;
        }

        async ValueTask OnStreamedAsync(StreamedStore store)
        {
            await using (store.ConfigureAwait(false))
            {
                var started = CacheMetrics.StartTimestamp();
                using var activity = CacheActivitySource.StartStorage("write", Cache.Name);
                try
                {
                    // Not the caller's token: a body the caller has read to its end is stored even if it then cancels.
                    var stored = await store.CompleteAsync(CancellationToken.None).ConfigureAwait(false);
                    CacheMetrics.Stored(Cache.Name, store.BodyLength);
                    flight?.Complete(new FlightResult(stored, null));
                }
                catch (Exception ex)
                {
                    CacheActivitySource.Failed(activity, ex);
                    Log.StorageFailed(Cache.Logger, ex, Cache.Name, "write");
                    CacheMetrics.StorageError(Cache.Name, "write", "error");
                    flight?.Complete(FlightResult.Retry);
                }
                finally
                {
                    CacheMetrics.Duration(Cache.Name, "write", started);
                }
            }
        }

        void OnStoreFailed(Exception ex)
        {
            Log.StorageFailed(Cache.Logger, ex, Cache.Name, "write");
            CacheMetrics.StorageError(Cache.Name, "write", "error");
        }

        return new StreamingTarget(Cache.Options.StreamingThreshold, StartAsync, OnStreamedAsync, OnStoreFailed);
    }
}
