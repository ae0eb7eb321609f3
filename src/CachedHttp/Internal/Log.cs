using Microsoft.Extensions.Logging;

namespace CachedHttp.Internal;

/// <summary>Source-generated log messages with fixed event ids. Keys and URLs only at Debug.</summary>
/// <remarks>Event ids 1-99 belong to this assembly, 100-199 to CachedHttp.DependencyInjection; an id never changes meaning.</remarks>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Cache {Result} for {Method} {Url} (key {Key})")]
    public static partial void Result(ILogger logger, string result, string method, Uri? url, string key);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Cache storage '{Storage}' failed during {Operation}; the request goes to the network")]
    public static partial void StorageFailed(ILogger logger, Exception exception, string storage, string operation);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "A stored cache entry could not be read and was deleted: {Reason}")]
    public static partial void CorruptEntry(ILogger logger, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Response not stored: {Reason}")]
    public static partial void NotStored(ILogger logger, string reason);

    [LoggerMessage(EventId = 30, Level = LogLevel.Debug, Message = "Response not stored: its entry of {Size} bytes is larger than MaxEntryBytes ({MaxEntryBytes})")]
    public static partial void EntryTooLarge(ILogger logger, long size, long maxEntryBytes);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Serving a stale response after an origin error")]
    public static partial void ServedStaleOnError(ILogger logger, Exception? exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Background revalidation failed")]
    public static partial void BackgroundRevalidationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "A response filter threw; the response is not stored")]
    public static partial void FilterFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Cache storage '{Storage}' timed out after {Timeout} during {Operation}; the request goes to the network")]
    public static partial void StorageTimedOut(ILogger logger, string storage, string operation, TimeSpan timeout);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Cache storage '{Storage}' circuit opened after {Failures} consecutive failed calls; requests skip the storage for {BreakDuration}")]
    public static partial void CircuitOpened(ILogger logger, string storage, int failures, TimeSpan breakDuration);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Cache storage '{Storage}' circuit closed: the trial call succeeded and requests use the storage again")]
    public static partial void CircuitClosed(ILogger logger, string storage);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "Cache storage '{Storage}' skipped during {Operation}: the circuit is open")]
    public static partial void StorageSkipped(ILogger logger, string storage, string operation);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Cache storage '{Storage}' circuit half-open: one trial call during {Operation}")]
    public static partial void CircuitHalfOpen(ILogger logger, string storage, string operation);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Export left out a stored value it cannot read: {Reason}")]
    public static partial void SkippedUnreadableEntry(ILogger logger, string reason);
}
