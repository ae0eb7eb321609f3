using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;

namespace CachedHttp.Internal;

/// <summary>The kind of a record of an export stream.</summary>
internal enum ExportRecordType : byte
{
    /// <summary>A response entry.</summary>
    Response = 0x01,

    /// <summary>A Vary index (the entry at a URL's key that lists its variants).</summary>
    VaryIndex = 0x02,

    /// <summary>A redirect alias: a redirect hop's key → the key of the final response.</summary>
    RedirectAlias = 0x03,

    /// <summary>The end record: counts, then nothing may follow.</summary>
    End = 0x7F,
}

/// <summary>
/// The export format of <see cref="CacheBackend.ExportAsync"/> and <see cref="CacheBackend.ImportAsync"/>, version 1: a
/// header, then one length-prefixed, checksummed record per stored value, then an end record with the counts. Written and
/// read one record at a time. All integers are little-endian; "CRC" is CRC-32C (Castagnoli, as in iSCSI and ext4: initial
/// value and final XOR 0xFFFFFFFF; the CRC of the ASCII bytes <c>123456789</c> is 0xE3069283).
/// </summary>
/// <remarks>
/// <para>Header, 24 bytes:</para>
/// <code>
///  0  8  magic 89 43 48 58 0D 0A 1A 0A ("\x89CHX\r\n\x1A\n": a binary file that a text-mode copy would visibly damage)
///  8  2  format version = 1 (a reader rejects a version it does not know, before reading further)
/// 10  2  flags = 0 (reserved: a reader rejects any bit it does not know)
/// 12  8  exported-at, Unix milliseconds
/// 20  4  CRC of bytes 0..19
/// </code>
/// <para>Then records. Record <em>n</em> (numbered from 1 in error messages):</para>
/// <code>
///  0  1  type: 0x01 response, 0x02 Vary index, 0x03 redirect alias, 0x7F end;
///           0x40..0x7E optional records a reader skips (none is written by version 1); any other type is an error
///  1  4  payload length P (at most 2^31 - 1)
///  5  P  payload
///  .  4  CRC of the type byte, the length and the payload
/// </code>
/// <para>The payload of a response, a Vary index or a redirect alias:</para>
/// <code>
///  0  4  key length K
///  4  K  storage key, UTF-8 (the key in the responses store; for an alias, in the redirects store)
///  .  8  delete-after, Unix milliseconds (Int64.MaxValue: none), as the source stored the value with
///  .  4  metadata length M
///  .  M  metadata:
///          response:   UTF-8 JSON of the stored metadata (method, URL, status, reason, version, headers, content,
///                      trailing and request headers, times, redirect history, Vary values, alias keys, body size),
///                      the same document the stored entry holds, decrypted; URLs and credentials as stored (redacted)
///          Vary index: UTF-8 JSON of the index (Vary header names, older name lists, variant keys, delete-after)
///          alias:      the target key, UTF-8
///  .  .  body: the rest of the payload — the response body, raw bytes, uncompressed; empty for the other types
/// </code>
/// <para>The end record's payload, 32 bytes, then the end of the stream (any byte after it is an error):</para>
/// <code>
///  0  8  number of records before it (optional records included)
///  8  8  response records
/// 16  8  Vary index records
/// 24  8  redirect alias records
/// </code>
/// <para>
/// A stream may be GZip-compressed as a whole (RFC 1952); a reader recognizes GZip by its first two bytes, 1F 8B, which
/// the magic never starts with. Responses and Vary indexes come first, in storage order, then redirect aliases (whose
/// targets an importer has then already written).
/// </para>
/// </remarks>
internal static class CacheExportFormat
{
    public const ushort CurrentVersion = 1;
    public const int HeaderSize = 24;
    public const int RecordPrefixSize = 5;
    public const int CrcSize = 4;
    public const int EndPayloadSize = 32;
    public const long NoDeleteAfter = long.MaxValue;
    public const byte FirstOptionalType = 0x40;
    public const byte LastOptionalType = 0x7E;

    public static ReadOnlySpan<byte> Magic => [0x89, (byte)'C', (byte)'H', (byte)'X', 0x0D, 0x0A, 0x1A, 0x0A];

    public static long ToUnixMilliseconds(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds() ?? NoDeleteAfter;

    /// <summary>Continues a CRC-32C over <paramref name="data"/>; start with <see cref="uint.MaxValue"/> and finish with <see cref="Finish"/>.</summary>
    public static uint Crc32C(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }

        return state;
    }

    public static uint Finish(uint state) => ~state;

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => Finish(Crc32C(uint.MaxValue, data));
}

/// <summary>Writes an export stream one record at a time (see <see cref="CacheExportFormat"/>).</summary>
internal sealed class CacheExportWriter(Stream output)
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private long _records;
    private long _responses;
    private long _varyIndexes;
    private long _aliases;

    /// <summary>Gets the number of bytes written so far (before any GZip).</summary>
    public long BytesWritten { get; private set; }

    public async ValueTask WriteHeaderAsync(DateTimeOffset exportedAt, CancellationToken cancellationToken)
    {
        var header = new byte[CacheExportFormat.HeaderSize];
        CacheExportFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), CacheExportFormat.CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), 0);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(12), exportedAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), CacheExportFormat.Crc32C(header.AsSpan(0, 20)));
        await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        BytesWritten += header.Length;
    }

    /// <summary>Writes a response, Vary index or alias record.</summary>
    public async ValueTask WriteEntryAsync(ExportRecordType type, string key, DateTimeOffset? deleteAfter, ReadOnlyMemory<byte> metadata, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var keyLength = Encoding.UTF8.GetByteCount(key);
        var payloadLength = 4L + keyLength + 8 + 4 + metadata.Length + body.Length;
        if (payloadLength > int.MaxValue)
        {
            throw new InvalidOperationException($"A stored value of {payloadLength} bytes is too large for the export format (at most 2 GiB a record).");
        }

        // The record is built in one buffer up to the body, which is written from where it is (no copy of large bodies).
        var prefixLength = CacheExportFormat.RecordPrefixSize + (int)payloadLength - body.Length;
        EnsureCapacity(prefixLength);
        var span = _buffer.AsSpan(0, prefixLength);
        span[0] = (byte)type;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], (int)payloadLength);
        var offset = CacheExportFormat.RecordPrefixSize;
        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], keyLength);
        offset += 4;
        offset += Encoding.UTF8.GetBytes(key, span[offset..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[offset..], CacheExportFormat.ToUnixMilliseconds(deleteAfter));
        offset += 8;
        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], metadata.Length);
        offset += 4;
        metadata.Span.CopyTo(span[offset..]);
        var crc = CacheExportFormat.Crc32C(uint.MaxValue, span);
        crc = CacheExportFormat.Finish(CacheExportFormat.Crc32C(crc, body.Span));
        await output.WriteAsync(_buffer.AsMemory(0, prefixLength), cancellationToken).ConfigureAwait(false);
        if (!body.IsEmpty)
        {
            await output.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        }

        await WriteCrcAsync(crc, cancellationToken).ConfigureAwait(false);
        BytesWritten += prefixLength + body.Length + CacheExportFormat.CrcSize;
        _records++;
        switch (type)
        {
            case ExportRecordType.Response:
                _responses++;
                break;
            case ExportRecordType.VaryIndex:
                _varyIndexes++;
                break;
            default:
                _aliases++;
                break;
        }
    }

    /// <summary>Writes the end record; the stream is complete after it.</summary>
    public async ValueTask WriteEndAsync(CancellationToken cancellationToken)
    {
        var record = new byte[CacheExportFormat.RecordPrefixSize + CacheExportFormat.EndPayloadSize];
        record[0] = (byte)ExportRecordType.End;
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(1), CacheExportFormat.EndPayloadSize);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(5), _records);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(13), _responses);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(21), _varyIndexes);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(29), _aliases);
        await output.WriteAsync(record, cancellationToken).ConfigureAwait(false);
        await WriteCrcAsync(CacheExportFormat.Crc32C(record), cancellationToken).ConfigureAwait(false);
        BytesWritten += record.Length + CacheExportFormat.CrcSize;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private async ValueTask WriteCrcAsync(uint crc, CancellationToken cancellationToken)
    {
        var bytes = new byte[CacheExportFormat.CrcSize];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, crc);
        await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    private void EnsureCapacity(int length)
    {
        if (_buffer.Length < length)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(length);
        }
    }
}

/// <summary>One record read from an export stream; its memory is valid until the next read.</summary>
/// <param name="Number">The record's number, from 1.</param>
/// <param name="Type">The record's type.</param>
/// <param name="Key">The storage key.</param>
/// <param name="DeleteAfter">The delete-after time, or null.</param>
/// <param name="Metadata">The metadata bytes.</param>
/// <param name="Body">The body bytes.</param>
internal readonly record struct ExportRecord(long Number, ExportRecordType Type, string Key, DateTimeOffset? DeleteAfter, ReadOnlyMemory<byte> Metadata, ReadOnlyMemory<byte> Body);

/// <summary>Reads an export stream one record at a time, checking every checksum and the end record's counts.</summary>
internal sealed class CacheExportReader : IAsyncDisposable
{
    private const int ReadChunk = 1024 * 1024;
    private readonly Stream _input;
    private readonly Stream? _ownedInput;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private long _records;
    private long _responses;
    private long _varyIndexes;
    private long _aliases;
    private bool _ended;

    private CacheExportReader(Stream input, Stream? ownedInput, DateTimeOffset exportedAt, bool compressed)
    {
        _input = input;
        _ownedInput = ownedInput;
        ExportedAt = exportedAt;
        IsCompressed = compressed;
    }

    /// <summary>Gets when the export was made.</summary>
    public DateTimeOffset ExportedAt { get; }

    /// <summary>Gets a value indicating whether the stream was GZip-compressed.</summary>
    public bool IsCompressed { get; }

    /// <summary>Gets the number of bytes of the export format read so far (after GZip decompression).</summary>
    public long BytesRead { get; private set; } = CacheExportFormat.HeaderSize;

    /// <summary>Gets the number of the last record read (0 before the first).</summary>
    public long RecordNumber => _records;

    /// <summary>Reads the header (unwrapping GZip when the stream starts with its magic) and returns a reader positioned at the first record.</summary>
    /// <exception cref="CacheExportFormatException">Not an export, an unknown version or flags, or a damaged header.</exception>
    public static async ValueTask<CacheExportReader> OpenAsync(Stream source, CancellationToken cancellationToken)
    {
        var first = new byte[2];
        var read = await source.ReadAtLeastAsync(first, first.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        Stream input = new PrefixedStream(first.AsMemory(0, read), source);
        Stream? owned = null;
        var compressed = read == 2 && first[0] == 0x1F && first[1] == 0x8B;
        if (compressed)
        {
            owned = input = new GZipStream(input, CompressionMode.Decompress, leaveOpen: true);
        }

        try
        {
            var header = new byte[CacheExportFormat.HeaderSize];
            var got = await ReadFullyAsync(input, header.AsMemory(0, 10), cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw new CacheExportFormatException(CacheExportFormatError.NotAnExport, null, "The data is empty: it is not a CachedHttp export.");
            }

            if (got < 8 || !header.AsSpan(0, 8).SequenceEqual(CacheExportFormat.Magic))
            {
                throw new CacheExportFormatException(CacheExportFormatError.NotAnExport, null, "The data is not a CachedHttp export (it does not start with the export magic bytes).");
            }

            if (got < 10)
            {
                throw new CacheExportFormatException(CacheExportFormatError.Truncated, null, "The export is truncated: it ends inside its header.");
            }

            var version = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(8));
            if (version != CacheExportFormat.CurrentVersion)
            {
                throw new CacheExportFormatException(
                    CacheExportFormatError.UnsupportedVersion,
                    null,
                    $"The export has format version {version}; this version of CachedHttp reads version {CacheExportFormat.CurrentVersion}. Import it with a newer CachedHttp.")
                {
                    FormatVersion = version,
                };
            }

            if (await ReadFullyAsync(input, header.AsMemory(10), cancellationToken).ConfigureAwait(false) < CacheExportFormat.HeaderSize - 10)
            {
                throw new CacheExportFormatException(CacheExportFormatError.Truncated, null, "The export is truncated: it ends inside its header.");
            }

            if (BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(20)) != CacheExportFormat.Crc32C(header.AsSpan(0, 20)))
            {
                throw new CacheExportFormatException(CacheExportFormatError.Corrupt, null, "The export's header is damaged (checksum mismatch).");
            }

            var flags = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(10));
            if (flags != 0)
            {
                throw new CacheExportFormatException(CacheExportFormatError.UnsupportedVersion, null, $"The export uses features this version of CachedHttp does not know (flags 0x{flags:x4}). Import it with a newer CachedHttp.")
                {
                    FormatVersion = version,
                };
            }

            var exportedAt = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(12));
            if (exportedAt is < -62_135_596_800_000 or > 253_402_300_799_999)
            {
                throw new CacheExportFormatException(CacheExportFormatError.Corrupt, null, "The export's header has an invalid export time.");
            }

            return new CacheExportReader(input, owned, DateTimeOffset.FromUnixTimeMilliseconds(exportedAt), compressed);
        }
        catch (InvalidDataException ex)
        {
            if (owned is not null)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }

            throw new CacheExportFormatException(CacheExportFormatError.Corrupt, null, "The export's GZip compression is damaged: " + ex.Message, ex);
        }
        catch
        {
            if (owned is not null)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Reads the next entry record, skipping optional ones; null after the end record, whose counts it has checked.</summary>
    /// <exception cref="CacheExportFormatException">A damaged or truncated record, a count mismatch, or bytes after the end.</exception>
    public async ValueTask<ExportRecord?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                if (_ended)
                {
                    return null;
                }

                var number = _records + 1;
                var prefix = await ReadRecordAsync(number, cancellationToken).ConfigureAwait(false);
                var type = (ExportRecordType)prefix.Type;
                var payload = _buffer.AsMemory(CacheExportFormat.RecordPrefixSize, prefix.Length);
                if (type == ExportRecordType.End)
                {
                    await CheckEndAsync(number, payload, cancellationToken).ConfigureAwait(false);
                    _ended = true;
                    return null;
                }

                _records = number;
                if (prefix.Type is >= CacheExportFormat.FirstOptionalType and <= CacheExportFormat.LastOptionalType)
                {
                    continue;
                }

                if (type is not (ExportRecordType.Response or ExportRecordType.VaryIndex or ExportRecordType.RedirectAlias))
                {
                    throw Corrupt(number, $"unknown record type 0x{prefix.Type:x2}");
                }

                var record = ParseEntry(number, type, payload);
                switch (type)
                {
                    case ExportRecordType.Response:
                        _responses++;
                        break;
                    case ExportRecordType.VaryIndex:
                        _varyIndexes++;
                        break;
                    default:
                        _aliases++;
                        break;
                }

                return record;
            }
        }
        catch (InvalidDataException ex)
        {
            throw new CacheExportFormatException(CacheExportFormatError.Corrupt, _records + 1, $"Record {_records + 1} of the export is damaged: its GZip compression is corrupt ({ex.Message}).", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownedInput is not null)
        {
            await _ownedInput.DisposeAsync().ConfigureAwait(false);
        }

        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private static CacheExportFormatException Corrupt(long number, string problem)
        => new(CacheExportFormatError.Corrupt, number, $"Record {number} of the export is damaged: {problem}.");

    private static CacheExportFormatException Truncated(long number)
        => new(CacheExportFormatError.Truncated, number, $"The export is truncated: it ends inside record {number}, before its end record.");

    private static async ValueTask<int> ReadFullyAsync(Stream input, Memory<byte> buffer, CancellationToken cancellationToken)
        => await input.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);

    /// <summary>Reads one whole record into the buffer (prefix, payload, CRC) and checks its CRC.</summary>
    private async ValueTask<(byte Type, int Length)> ReadRecordAsync(long number, CancellationToken cancellationToken)
    {
        var got = await ReadFullyAsync(_input, _buffer.AsMemory(0, CacheExportFormat.RecordPrefixSize), cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            throw new CacheExportFormatException(CacheExportFormatError.Truncated, number, $"The export is truncated: it ends after record {number - 1}, without its end record.");
        }

        if (got < CacheExportFormat.RecordPrefixSize)
        {
            throw Truncated(number);
        }

        var type = _buffer[0];
        var length = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(1));
        if (length < 0)
        {
            throw Corrupt(number, "negative length");
        }

        // Grow the buffer as the bytes arrive, so that a damaged length cannot allocate gigabytes up front.
        var total = CacheExportFormat.RecordPrefixSize + (long)length + CacheExportFormat.CrcSize;
        var filled = CacheExportFormat.RecordPrefixSize;
        while (filled < total)
        {
            var want = (int)Math.Min(total - filled, ReadChunk);
            EnsureCapacity(filled, filled + want);
            var chunk = await ReadFullyAsync(_input, _buffer.AsMemory(filled, want), cancellationToken).ConfigureAwait(false);
            filled += chunk;
            if (chunk < want)
            {
                throw Truncated(number);
            }
        }

        var recordLength = CacheExportFormat.RecordPrefixSize + length;
        var expected = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(recordLength));
        if (expected != CacheExportFormat.Crc32C(_buffer.AsSpan(0, recordLength)))
        {
            throw Corrupt(number, "checksum mismatch");
        }

        BytesRead += total;
        return (type, length);
    }

    private ExportRecord ParseEntry(long number, ExportRecordType type, ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        if (span.Length < 16)
        {
            throw Corrupt(number, "payload too short");
        }

        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(span);
        if (keyLength <= 0 || keyLength > span.Length - 16)
        {
            throw Corrupt(number, "bad key length");
        }

        string key;
        try
        {
            key = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(span.Slice(4, keyLength));
        }
        catch (DecoderFallbackException)
        {
            throw Corrupt(number, "the key is not UTF-8");
        }

        var offset = 4 + keyLength;
        var deleteAfterValue = BinaryPrimitives.ReadInt64LittleEndian(span[offset..]);
        DateTimeOffset? deleteAfter = deleteAfterValue switch
        {
            CacheExportFormat.NoDeleteAfter => null,
            >= -62_135_596_800_000 and <= 253_402_300_799_999 => DateTimeOffset.FromUnixTimeMilliseconds(deleteAfterValue),
            _ => throw Corrupt(number, "delete-after time out of range"),
        };
        offset += 8;
        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
        offset += 4;
        if (metadataLength < 0 || metadataLength > span.Length - offset)
        {
            throw Corrupt(number, "bad metadata length");
        }

        var metadata = payload.Slice(offset, metadataLength);
        var body = payload[(offset + metadataLength)..];
        if (type != ExportRecordType.Response && !body.IsEmpty)
        {
            throw Corrupt(number, "a body on a record that has none");
        }

        return new ExportRecord(number, type, key, deleteAfter, metadata, body);
    }

    private async ValueTask CheckEndAsync(long number, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length != CacheExportFormat.EndPayloadSize)
        {
            throw Corrupt(number, "the end record has the wrong size");
        }

        var span = payload.Span;
        var records = BinaryPrimitives.ReadInt64LittleEndian(span);
        var responses = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
        var varyIndexes = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
        var aliases = BinaryPrimitives.ReadInt64LittleEndian(span[24..]);
        if (records != _records || responses != _responses || varyIndexes != _varyIndexes || aliases != _aliases)
        {
            throw new CacheExportFormatException(
                CacheExportFormatError.Truncated,
                number,
                $"The export is incomplete: its end record counts {records} records ({responses} responses, {varyIndexes} Vary indexes, {aliases} redirects), and {_records} were read ({_responses}, {_varyIndexes}, {_aliases}).");
        }

        var extra = new byte[1];
        if (await _input.ReadAsync(extra, cancellationToken).ConfigureAwait(false) != 0)
        {
            throw new CacheExportFormatException(CacheExportFormatError.Corrupt, number, "The export has data after its end record.");
        }
    }

    private void EnsureCapacity(int keep, int length)
    {
        if (_buffer.Length >= length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(length, (int)Math.Min(Array.MaxLength, _buffer.Length * 2L)));
        _buffer.AsSpan(0, keep).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }

    /// <summary>A read-only stream of a few bytes already read, then the rest of another stream (to sniff GZip on a stream that cannot seek).</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
            {
                return inner.Read(buffer);
            }

            var count = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..count].CopyTo(buffer);
            _prefix = _prefix[count..];
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.IsEmpty)
            {
                return inner.ReadAsync(buffer, cancellationToken);
            }

            var count = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..count].CopyTo(buffer.Span);
            _prefix = _prefix[count..];
            return ValueTask.FromResult(count);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
