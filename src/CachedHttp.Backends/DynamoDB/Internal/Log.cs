using Microsoft.Extensions.Logging;

namespace CachedHttp.DynamoDB.Internal;

/// <summary>Source-generated log messages of the DynamoDB storage, with fixed event ids (3000-3099). No keys above Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Created DynamoDB table '{Table}' for the HTTP cache")]
    public static partial void TableCreated(ILogger logger, string table);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "DynamoDB endpoint does not implement UpdateTimeToLive (an emulator?); expired items of table '{Table}' are hidden on read and removed by DeleteExpiredAsync only")]
    public static partial void TimeToLiveUnsupported(ILogger logger, string table);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Could not enable Time to Live on DynamoDB table '{Table}'; expired items are hidden on read but not deleted natively")]
    public static partial void TimeToLiveFailed(ILogger logger, Exception exception, string table);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "DynamoDB table '{Table}' already has Time to Live on attribute '{Existing}', not '{Expected}'; expired cache items are hidden on read but not deleted natively")]
    public static partial void TimeToLiveOtherAttribute(ILogger logger, string table, string? existing, string expected);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Time to Live enabled on attribute '{Attribute}' of DynamoDB table '{Table}'")]
    public static partial void TimeToLiveEnabled(ILogger logger, string attribute, string table);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Could not delete {Count} replaced chunk items from DynamoDB table '{Table}'; they are removed by their TTL or by ClearAsync")]
    public static partial void StaleChunksLeft(ILogger logger, Exception exception, int count, string table);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Debug, Message = "Chunks of '{Key}' changed while it was read; reading it again")]
    public static partial void TornRead(ILogger logger, string key);
}
