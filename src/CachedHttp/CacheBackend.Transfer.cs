using System.IO.Compression;
using System.Text;
using System.Text.Json;
using CachedHttp.Internal;
using CachedHttp.Policy;

namespace CachedHttp;

/// <content>Export and import: a cache moved from one backend to another as a stream (format: <c>Internal/CacheExportFormat.cs</c>).</content>
public partial class CacheBackend
{
    /// <summary>
    /// Writes every stored response, Vary index and redirect alias of this backend to a stream, in the versioned CachedHttp
    /// export format, one entry at a time (the cache is never held in memory whole).
    /// </summary>
    /// <param name="destination">The stream to write to. It is flushed at the end, and neither closed nor disposed.</param>
    /// <param name="options">What to export, and whether to compress; defaults when null. They are validated now.</param>
    /// <param name="progress">Receives reports as the export goes (at most one per <see cref="CacheTransferOptions.ProgressInterval"/>) and a final one equal to the result.</param>
    /// <param name="cancellationToken">A token to cancel the export; the stream is then incomplete, which an import detects.</param>
    /// <returns>The counts of what was exported and left out.</returns>
    /// <remarks>
    /// <para>
    /// Each entry is decoded with this backend's keys (signing, encryption, compression) and written in clear, so that a
    /// backend with other keys, or none, can import it: <b>an export holds what the cache holds, decrypted</b> — bodies,
    /// response headers such as <c>Set-Cookie</c>. URLs and request credentials are in it as the cache stores them
    /// (redacted). Protect an export like the cache itself.
    /// </para>
    /// <para>
    /// Values this backend cannot read (undecodable, or protected with a key it does not have) are left out and counted in
    /// <see cref="CacheTransferProgress.SkippedUnreadable"/>. The export is not a snapshot: entries written while it runs may
    /// or may not be in it.
    /// </para>
    /// <para>
    /// Progress is reported synchronously on the exporting flow; a <see cref="Progress{T}"/> posts reports to its
    /// synchronization context or the thread pool, where they may run out of order.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentException">An option is invalid, or the stream cannot be written.</exception>
    /// <exception cref="OperationCanceledException">The export was cancelled.</exception>
    public async Task<CacheTransferResult> ExportAsync(Stream destination, CacheExportOptions? options = null, IProgress<CacheTransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            throw new ArgumentException("The destination stream cannot be written.", nameof(destination));
        }

        options ??= new CacheExportOptions();
        options.Validate();
        var now = Now;
        var exportedAt = DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()); // as the header keeps it
        var tracker = new TransferTracker(Options.TimeProvider, options.ProgressInterval, progress);
        var gzip = options.Compress ? new GZipStream(destination, CompressionLevel.Fastest, leaveOpen: true) : null;
        try
        {
            var writer = new CacheExportWriter(gzip ?? destination);
            await writer.WriteHeaderAsync(exportedAt, cancellationToken).ConfigureAwait(false);
            await foreach (var entry in Responses.GetEntriesAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                await ExportEntryAsync(writer, entry.Key, entry.Value, now, options.IncludeExpired, tracker, cancellationToken).ConfigureAwait(false);
                tracker.Bytes = writer.BytesWritten;
                tracker.Tick();
            }

            await foreach (var alias in Redirects.GetEntriesAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                await ExportAliasAsync(writer, alias.Key, alias.Value, now, options.IncludeExpired, tracker, cancellationToken).ConfigureAwait(false);
                tracker.Bytes = writer.BytesWritten;
                tracker.Tick();
            }

            await writer.WriteEndAsync(cancellationToken).ConfigureAwait(false);
            tracker.Bytes = writer.BytesWritten;
        }
        finally
        {
            if (gzip is not null)
            {
                await gzip.DisposeAsync().ConfigureAwait(false);
            }
        }

        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return tracker.Complete(exportedAt);
    }

    /// <summary>
    /// Reads a stream written by <see cref="ExportAsync"/> (by this or any other backend, GZip-compressed or not) and
    /// stores its entries in this backend, one at a time, each encoded with this backend's keys and compression.
    /// </summary>
    /// <param name="source">The stream to read. It is neither closed nor disposed.</param>
    /// <param name="options">Whether existing keys are overwritten; defaults when null. They are validated now.</param>
    /// <param name="progress">Receives reports as the import goes (at most one per <see cref="CacheTransferOptions.ProgressInterval"/>) and a final one equal to the result.</param>
    /// <param name="cancellationToken">A token to cancel the import; what was imported before stays.</param>
    /// <returns>The counts of what was imported and left out.</returns>
    /// <remarks>
    /// <para>
    /// Entries keep their storage keys and delete-after times. Keys of requests with credentials (and stored Vary values of
    /// credential headers) are keyed hashes with <see cref="CacheOptions.CredentialKey"/> — by default derived from the first
    /// signing or encryption key: such entries are found in this backend only if its credential key is the source's. Set
    /// <see cref="CacheOptions.CredentialKey"/> to the same value on both backends to move them; other entries need nothing.
    /// </para>
    /// <para>
    /// The import is not atomic: each record is written as it is read. When the stream turns out truncated or damaged, a
    /// <see cref="CacheExportFormatException"/> names the record at fault, and the records before it stay imported
    /// (<see cref="CacheExportFormatException.Progress"/> counts them). Entries already past their delete-after time are
    /// left out. The import only writes: the backend's filters and allowed methods and statuses apply when the entries are
    /// read, as for any stored entry.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentException">An option is invalid, or the stream cannot be read.</exception>
    /// <exception cref="CacheExportFormatException">The stream is not an export, is of a newer format version, or is truncated or damaged.</exception>
    /// <exception cref="OperationCanceledException">The import was cancelled.</exception>
    public async Task<CacheTransferResult> ImportAsync(Stream source, CacheImportOptions? options = null, IProgress<CacheTransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.CanRead)
        {
            throw new ArgumentException("The source stream cannot be read.", nameof(source));
        }

        options ??= new CacheImportOptions();
        options.Validate();
        var tracker = new TransferTracker(Options.TimeProvider, options.ProgressInterval, progress);
        var reader = await CacheExportReader.OpenAsync(source, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            try
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) is { } record)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await ImportRecordAsync(record, options.SkipExisting, tracker, cancellationToken).ConfigureAwait(false);
                    tracker.Bytes = reader.BytesRead;
                    tracker.Tick();
                }
            }
            catch (CacheExportFormatException ex)
            {
                ex.Progress = tracker.Snapshot();
                throw;
            }

            tracker.Bytes = reader.BytesRead;
            return tracker.Complete(reader.ExportedAt);
        }
    }

    private async ValueTask ExportEntryAsync(CacheExportWriter writer, string key, byte[] value, DateTimeOffset now, bool includeExpired, TransferTracker tracker, CancellationToken cancellationToken)
    {
        try
        {
            if (EntrySerializer.ReadKind(value) == EntryKind.VaryIndex)
            {
                var index = Serializer.DeserializeVaryIndex(value, key);
                if (index.DeleteAfter <= now)
                {
                    tracker.SkippedExpired++;
                    return;
                }

                var json = JsonSerializer.SerializeToUtf8Bytes(index, StoredJsonContext.Default.VaryIndex);
                await writer.WriteEntryAsync(ExportRecordType.VaryIndex, key, index.DeleteAfter, json, default, cancellationToken).ConfigureAwait(false);
                tracker.VaryIndexes++;
                return;
            }

            var response = Serializer.Deserialize(value, key);
            var deleteAfter = DeleteAfterOf(response);
            if ((!includeExpired && response.IsExpired(now)) || deleteAfter <= now)
            {
                tracker.SkippedExpired++;
                return;
            }

            var metadata = JsonSerializer.SerializeToUtf8Bytes(Serializer.ToStored(response), StoredJsonContext.Default.StoredResponse);
            await writer.WriteEntryAsync(ExportRecordType.Response, key, deleteAfter, metadata, response.Body, cancellationToken).ConfigureAwait(false);
            tracker.Responses++;
        }
        catch (CacheFormatException ex)
        {
            Log.SkippedUnreadableEntry(Logger, ex.Message);
            tracker.SkippedUnreadable++;
        }
    }

    private async ValueTask ExportAliasAsync(CacheExportWriter writer, string key, byte[] value, DateTimeOffset now, bool includeExpired, TransferTracker tracker, CancellationToken cancellationToken)
    {
        var target = Encoding.UTF8.GetString(value);
        var bytes = await Responses.ReadAsync(target, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            tracker.SkippedUnreadable++; // the response it led to is gone: the alias leads nowhere
            return;
        }

        // An alias lives as long as its response (it was written with the response's delete-after time).
        DateTimeOffset? deleteAfter;
        try
        {
            if (EntrySerializer.ReadKind(bytes) == EntryKind.VaryIndex)
            {
                deleteAfter = Serializer.DeserializeVaryIndex(bytes, target).DeleteAfter;
            }
            else
            {
                var response = Serializer.Deserialize(bytes, target);
                deleteAfter = DeleteAfterOf(response);
                if (!includeExpired && response.IsExpired(now))
                {
                    tracker.SkippedExpired++;
                    return;
                }
            }
        }
        catch (CacheFormatException)
        {
            tracker.SkippedUnreadable++;
            return;
        }

        if (deleteAfter <= now)
        {
            tracker.SkippedExpired++;
            return;
        }

        await writer.WriteEntryAsync(ExportRecordType.RedirectAlias, key, deleteAfter, value, default, cancellationToken).ConfigureAwait(false);
        tracker.Redirects++;
    }

    private async ValueTask ImportRecordAsync(ExportRecord record, bool skipExisting, TransferTracker tracker, CancellationToken cancellationToken)
    {
        if (record.DeleteAfter <= Now)
        {
            tracker.SkippedExpired++;
            return;
        }

        switch (record.Type)
        {
            case ExportRecordType.Response:
                {
                    CachedResponse response;
                    try
                    {
                        var metadata = EntrySerializer.ParseMetadata(record.Metadata.Span, record.Body.Length, expiresAt: null);
                        response = EntrySerializer.FromStored(metadata, record.Body);
                    }
                    catch (CacheFormatException ex)
                    {
                        throw NotAnEntry(record, ex);
                    }

                    if (skipExisting && await Responses.ContainsAsync(record.Key, cancellationToken).ConfigureAwait(false))
                    {
                        tracker.SkippedExisting++;
                        return;
                    }

                    await Responses.WriteAsync(record.Key, Serializer.Serialize(response, record.Key), record.DeleteAfter, cancellationToken).ConfigureAwait(false);
                    tracker.Responses++;
                    return;
                }

            case ExportRecordType.VaryIndex:
                {
                    VaryIndex index;
                    try
                    {
                        index = EntrySerializer.ParseVaryIndex(record.Metadata.Span);
                    }
                    catch (CacheFormatException ex)
                    {
                        throw NotAnEntry(record, ex);
                    }

                    index.DeleteAfter = record.DeleteAfter;
                    if (await ReadVaryIndexAsync(record.Key, cancellationToken).ConfigureAwait(false) is { } existing)
                    {
                        index = Merge(existing, index);
                    }

                    await Responses.WriteAsync(record.Key, Serializer.SerializeVaryIndex(index, record.Key), index.DeleteAfter, cancellationToken).ConfigureAwait(false);
                    tracker.VaryIndexes++;
                    return;
                }

            default:
                {
                    if (record.Metadata.IsEmpty)
                    {
                        throw new CacheExportFormatException(CacheExportFormatError.Corrupt, record.Number, $"Record {record.Number} of the export is damaged: a redirect alias without a target.");
                    }

                    if (skipExisting && await Redirects.ContainsAsync(record.Key, cancellationToken).ConfigureAwait(false))
                    {
                        tracker.SkippedExisting++;
                        return;
                    }

                    await Redirects.WriteAsync(record.Key, record.Metadata, record.DeleteAfter, cancellationToken).ConfigureAwait(false);
                    tracker.Redirects++;
                    return;
                }
        }
    }

    private static CacheExportFormatException NotAnEntry(ExportRecord record, CacheFormatException ex)
        => new(CacheExportFormatError.Corrupt, record.Number, $"Record {record.Number} of the export is damaged: it is not a valid entry ({ex.Message})", ex);

    /// <summary>The union of two indexes of one URL: the imported one's Vary list first, every variant of both (the most recent <see cref="MaxVariants"/>).</summary>
    private static VaryIndex Merge(VaryIndex existing, VaryIndex imported)
    {
        var nameSets = new List<List<string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { string.Join('\n', imported.Names) };
        foreach (var names in NameSetsOf(imported).Concat(NameSetsOf(existing)))
        {
            if (names.Count > 0 && seen.Add(string.Join('\n', names)) && nameSets.Count < MaxNameSets - 1)
            {
                nameSets.Add(names);
            }
        }

        var variants = existing.Variants.Where(v => !imported.Variants.Contains(v, StringComparer.Ordinal)).Concat(imported.Variants).ToList();
        return new VaryIndex
        {
            Names = imported.Names,
            NameSets = nameSets.Count > 0 ? nameSets : null,
            Variants = variants.Count > MaxVariants ? variants[^MaxVariants..] : variants,
            DeleteAfter = Later(existing.DeleteAfter, imported.DeleteAfter),
        };
    }

    /// <summary>
    /// The delete-after time a response was stored with: its expiry plus the stale windows of the options and of its own
    /// Cache-Control (none with must-revalidate or no-cache), and <see cref="CacheOptions.StaleRetention"/> when it has a
    /// validator — as <see cref="CachePolicy"/> plans it when storing.
    /// </summary>
    private DateTimeOffset? DeleteAfterOf(CachedResponse response)
    {
        if (response.ExpiresAt is not { } expires)
        {
            return null;
        }

        var retention = StaleWindow;
        if (Options.CacheControl)
        {
            var directives = CacheControlDirectives.Parse(response.Headers.GetValue("Cache-Control"));
            retention = directives.MustRevalidate || directives.NoCache
                ? TimeSpan.Zero
                : Max(retention, Max(directives.StaleIfError ?? TimeSpan.Zero, directives.StaleWhileRevalidate ?? TimeSpan.Zero));
        }

        if (response.HasValidators)
        {
            retention = Max(retention, Options.StaleRetention);
        }

        return CachePolicy.SafeAdd(expires, retention);
    }

    /// <summary>The counts of a transfer, and its progress reports: at most one per interval, and a final one.</summary>
    private sealed class TransferTracker(TimeProvider time, TimeSpan interval, IProgress<CacheTransferProgress>? progress)
    {
        private readonly long _started = time.GetTimestamp();
        private long _lastReport = time.GetTimestamp();

        public long Responses { get; set; }

        public long VaryIndexes { get; set; }

        public long Redirects { get; set; }

        public long SkippedExpired { get; set; }

        public long SkippedUnreadable { get; set; }

        public long SkippedExisting { get; set; }

        public long Bytes { get; set; }

        public void Tick()
        {
            if (progress is null)
            {
                return;
            }

            var now = time.GetTimestamp();
            if (time.GetElapsedTime(_lastReport, now) >= interval)
            {
                _lastReport = now;
                progress.Report(Snapshot());
            }
        }

        public CacheTransferProgress Snapshot() => new()
        {
            Responses = Responses,
            VaryIndexes = VaryIndexes,
            Redirects = Redirects,
            SkippedExpired = SkippedExpired,
            SkippedUnreadable = SkippedUnreadable,
            SkippedExisting = SkippedExisting,
            Bytes = Bytes,
            Elapsed = time.GetElapsedTime(_started),
        };

        public CacheTransferResult Complete(DateTimeOffset exportedAt)
        {
            var result = new CacheTransferResult
            {
                ExportedAt = exportedAt,
                Responses = Responses,
                VaryIndexes = VaryIndexes,
                Redirects = Redirects,
                SkippedExpired = SkippedExpired,
                SkippedUnreadable = SkippedUnreadable,
                SkippedExisting = SkippedExisting,
                Bytes = Bytes,
                Elapsed = time.GetElapsedTime(_started),
            };
            progress?.Report(result);
            return result;
        }
    }
}
