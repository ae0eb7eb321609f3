using System.Text;

namespace CachedHttp.Internal;

/// <summary>
/// One response being stored while its body streams in: a streamed entry (see <c>EntrySerializer.Streaming.cs</c>)
/// written to a <see cref="StorageWriteStream"/>, committed by <see cref="CompleteAsync"/> with the response's redirect
/// aliases, and discarded when disposed before that. Created by <see cref="CacheBackend"/>; not thread-safe.
/// </summary>
internal sealed class StreamedStore : IDisposable, IAsyncDisposable
{
    private readonly CacheBackend _backend;
    private readonly string _key;
    private readonly CachedResponse _response;
    private readonly DateTimeOffset? _deleteAfter;
    private readonly StorageWriteStream _target;
    private readonly EntrySerializer.StreamedEntryWriter _writer;
    private readonly long? _maxEntryBytes;
    private bool _started;

    public StreamedStore(CacheBackend backend, string key, CachedResponse response, DateTimeOffset? deleteAfter, StorageWriteStream target, EntrySerializer.StreamedEntryWriter writer)
    {
        _backend = backend;
        _key = key;
        _response = response;
        _deleteAfter = deleteAfter;
        _target = target;
        _writer = writer;
        _maxEntryBytes = backend.Options.MaxEntryBytes;
    }

    /// <summary>Gets the number of body bytes written so far.</summary>
    public long BodyLength => _writer.BodyLength;

    /// <summary>Writes the next piece of the body.</summary>
    /// <exception cref="InvalidOperationException">The entry would be larger than <see cref="CacheOptions.MaxEntryBytes"/>.</exception>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            _started = true;
            await _writer.StartAsync(_target, cancellationToken).ConfigureAwait(false);
        }

        if (_writer.TotalLength + body.Length > _maxEntryBytes)
        {
            throw new InvalidOperationException($"The entry is larger than CacheOptions.MaxEntryBytes ({_maxEntryBytes} bytes); it is not stored.");
        }

        await _writer.WriteBodyAsync(_target, body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finishes the entry, commits it, writes the redirect aliases, and returns the stored response (its body left in storage).</summary>
    public async ValueTask<CachedResponse> CompleteAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            _started = true;
            await _writer.StartAsync(_target, cancellationToken).ConfigureAwait(false);
        }

        await _writer.FinishAsync(_target, cancellationToken).ConfigureAwait(false);
        await _target.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (_response.AliasKeys.Count > 0)
        {
            var target = Encoding.UTF8.GetBytes(_key);
            foreach (var alias in _response.AliasKeys)
            {
                if (alias != _key)
                {
                    await _backend.Redirects.WriteAsync(alias, target, _deleteAfter, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        var body = new StoredBody(_backend.Responses, _key, _writer.Prefix, _writer.BodyLength, _writer.TotalLength, streamed: true, _writer.Signed ? _backend.Serializer : null);
        return _response with { Body = ReadOnlyMemory<byte>.Empty, StoredBody = body };
    }

    /// <summary>Discards the entry unless it was committed.</summary>
    public void Dispose()
    {
        _writer.Dispose();
        _target.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _writer.Dispose();
        await _target.DisposeAsync().ConfigureAwait(false);
    }
}
