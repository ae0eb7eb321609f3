using CachedHttp.Internal;

namespace CachedHttp;

/// <content>
/// Large bodies with a storage that streams (<see cref="BaseCache.SupportsStreaming"/>): entries read from their head
/// with the body left in storage, and responses stored while their body streams in.
/// </content>
public partial class CacheBackend
{
    /// <summary>How much of a large value is read to decode its header and metadata (larger metadata: the value is read whole).</summary>
    internal const int HeadBytes = 64 * 1024;

    /// <summary>
    /// Reads a stored value for a lookup: whole, or, from a storage that streams, only the head of a value larger than
    /// <see cref="CacheOptions.StreamingThreshold"/>. <c>Length</c> is the whole value's length.
    /// </summary>
    internal ValueTask<(byte[]? Bytes, long Length)> ReadEntryAsync(string key, CancellationToken cancellationToken)
    {
        if (Responses.SupportsStreaming)
        {
            return ReadHeadAsync(key, cancellationToken);
        }

        var read = Responses.ReadAsync(key, cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            var bytes = read.Result;
            return ValueTask.FromResult((bytes, (long)(bytes?.Length ?? 0)));
        }

        return ReadWholeAsync(read);

        static async ValueTask<(byte[]? Bytes, long Length)> ReadWholeAsync(ValueTask<byte[]?> read)
        {
            var bytes = await read.ConfigureAwait(false);
            return (bytes, bytes?.Length ?? 0);
        }
    }

    /// <summary>
    /// Decodes what <see cref="ReadEntryAsync"/> read: a whole value as always; a head into a response whose body stays
    /// in storage (a signed entry's signature checked first, by reading the value through).
    /// </summary>
    /// <exception cref="CacheFormatException">The entry is not readable or not authentic.</exception>
    internal ValueTask<CachedResponse> DecodeEntryAsync(byte[] bytes, long length, string key, CancellationToken cancellationToken)
        => bytes.LongLength == length
            ? ValueTask.FromResult(Decode(bytes, key))
            : DecodeLargeAsync(bytes, length, key, cancellationToken);

    /// <summary>Tells whether a response to be stored may stream its body to storage (and a <see cref="StreamedStore"/> be opened for it).</summary>
    internal bool CanStreamStore(CachedResponse response)
        => Responses.SupportsStreaming && Serializer.CanStream(response) && VaryNames(response).Count == 0
            && Options.MaxEntryBytes is null; // with a bound on entries, a body is buffered (up to MaxBodySize) and measured before it is written

    /// <summary>Opens the storage write of a response whose body is about to stream in (see <see cref="CanStreamStore"/>).</summary>
    internal async ValueTask<StreamedStore> BeginStreamedStoreAsync(string key, CachedResponse response, DateTimeOffset? deleteAfter, CancellationToken cancellationToken)
    {
        var target = await Responses.OpenWriteAsync(key, deleteAfter, cancellationToken).ConfigureAwait(false);
        return new StreamedStore(this, key, response, deleteAfter, target, Serializer.BeginStreamed(response, key));
    }

    /// <summary>
    /// Stores again a response whose body is in storage (a 304 updated its metadata): its body is copied, piece by
    /// piece, from the stored entry into a new streamed entry. A response with Vary is not stored this way (it is not
    /// stored: large bodies are never stored with Vary).
    /// </summary>
    internal async ValueTask SaveStoredBodyAsync(string key, CachedResponse response, StoredBody body, DateTimeOffset? deleteAfter, CancellationToken cancellationToken)
    {
        if (!CanStreamStore(response))
        {
            Log.NotStored(Logger, "a large body cannot be stored again with these options or with Vary");
            return;
        }

        var store = await BeginStreamedStoreAsync(key, response, deleteAfter, cancellationToken).ConfigureAwait(false);
        await using (store.ConfigureAwait(false))
        {
            var source = await body.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (source.ConfigureAwait(false))
            {
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
                try
                {
                    int read;
                    while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await store.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            await store.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<(byte[]? Bytes, long Length)> ReadHeadAsync(string key, CancellationToken cancellationToken)
    {
        var info = await Responses.ReadUpToAsync(key, Options.StreamingThreshold, HeadBytes, cancellationToken).ConfigureAwait(false);
        if (info is null)
        {
            return (null, 0);
        }

        var head = info.Head;
        var bytes = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(head, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : head.ToArray();
        return (bytes, info.Size);
    }

    private async ValueTask<CachedResponse> DecodeLargeAsync(byte[] head, long length, string key, CancellationToken cancellationToken)
    {
        var response = Serializer.TryOpenHead(head, length, key, Responses);
        if (response is null)
        {
            // Compressed, encrypted or with very large metadata: only the whole value can be decoded.
            var whole = await Responses.ReadAsync(key, cancellationToken).ConfigureAwait(false)
                ?? throw new CacheFormatException(RejectReason.Truncated, "The entry was deleted while it was read.");
            return Serializer.Deserialize(whole, key);
        }

        if (Serializer.Authenticates)
        {
            // A bad signature is a miss, as for any entry: check it before the entry is used.
            var value = await Responses.OpenReadAsync(key, cancellationToken).ConfigureAwait(false)
                ?? throw new CacheFormatException(RejectReason.Truncated, "The entry was deleted while it was read.");
            await using (value.ConfigureAwait(false))
            {
                await Serializer.VerifyStoredAsync(value, length, key, cancellationToken).ConfigureAwait(false);
            }
        }

        return response;
    }
}
