using Microsoft.Extensions.Logging;

namespace CachedHttp.MongoDB.Internal;

/// <summary>Source-generated log messages of the MongoDB storages, with fixed event ids (3100-3199). No keys above Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Warning, Message = "Could not create index '{Index}' on MongoDB collection '{Collection}'; the cache works without it (no native expiry, or slower sweeps)")]
    public static partial void IndexFailed(ILogger logger, Exception exception, string index, string collection);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Could not delete a replaced GridFS file from bucket '{Bucket}'; DeleteExpiredAsync or ClearAsync removes it")]
    public static partial void StaleFileLeft(ILogger logger, Exception exception, string bucket);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Debug, Message = "GridFS body of '{Key}' vanished while it was read; reading it again")]
    public static partial void TornRead(ILogger logger, string key);
}
