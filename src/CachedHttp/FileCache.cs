using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using CachedHttp.Internal;
using Microsoft.Win32.SafeHandles;

namespace CachedHttp;

/// <summary>
/// Storage in a directory: one file per entry in <c>{directory}/{storeName}/</c>, written atomically.
/// </summary>
/// <remarks>
/// <para>
/// A file is named by the lowercase hex SHA-256 of its key (<c>{hash}.chc</c>), and the key itself is stored inside
/// the file, so any string is a valid key and no key can address a path outside the directory. A file holds a small
/// header (magic <c>CHF1</c>, key length, UTF-8 key, delete-after time in Unix milliseconds or -1, value length)
/// followed by the value bytes. With <see cref="FileCacheOptions.ReadableFormat"/> each entry is instead a
/// <c>{hash}.json</c> and a <c>{hash}.body</c> file meant to be read by people.
/// </para>
/// <para>
/// Writes go to a temporary file in the same directory (<c>.{name}.{guid}.tmp</c>), optionally flushed to disk,
/// which is then renamed over the entry's file: readers see the old value or the new one, never a mix, and the last
/// rename wins when several writers (threads or processes) write one key. A file that is truncated or corrupt, or
/// whose delete-after time has passed, reads as a miss and is deleted. In the readable format the <c>.body</c> is
/// renamed into place before the <c>.json</c>, which is the commit marker; the pair of one key is written and read
/// under a lock within a process, and across processes the <c>.json</c> records the body's length and SHA-256, so a
/// mismatched pair is a miss.
/// </para>
/// <para>
/// Thread-safe, and safe to share a directory between processes. The storage holds no open files between calls;
/// disposing it writes the pending last uses (below) and leaves the files in place. Values are read with asynchronous I/O; use
/// <see cref="OpenReadStreamAsync"/> and <see cref="WriteStreamAsync"/> to move large values without holding them whole.
/// </para>
/// <para>
/// An entry file's last-write time is its last use: a write sets it, and a read moves it forward (by this storage's
/// <see cref="BaseCache.TimeProvider"/>); reads are noted in memory and written to the files' times by a background
/// flush within about a second (at once after 1,024 entries), so that a hit costs no extra file operation. With size bounds (<see cref="BaseCache.SetSizeLimits"/>), a background trim
/// deletes the entries used longest ago, whole; see <see cref="TrimAsync"/>.
/// </para>
/// </remarks>
public partial class FileCache : BaseCache
{
    /// <summary>The store name used when none is given.</summary>
    public const string DefaultStoreName = "responses";

    private const string BinaryExtension = ".chc";
    private const string JsonExtension = ".json";
    private const string BodyExtension = ".body";
    private const string TempExtension = ".tmp";
    private const int HashLength = 64;
    private const int GuidLength = 32;

    // magic (4) + key length (4) + delete-after (8) + value length (8), the key between the second and third fields.
    private const int FixedHeaderSize = 4 + 4 + 8 + 8;

    // Files up to this size are read with one call; larger values are read in two (header, then the rest).
    private const int SmallFileSize = 64 * 1024;

    // Enough for the header of an entry with a key of up to ~1000 UTF-8 bytes (keys are usually 64 hex characters).
    private const int HeaderProbeSize = 1024;
    private const int CopyBufferSize = 81920;
    private const int MoveAttempts = 8;
    private const FileOptions ReadOptions = FileOptions.Asynchronous | FileOptions.SequentialScan;
    private const FileShare ReadShare = FileShare.ReadWrite | FileShare.Delete;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // Striped by key hash and shared by every instance in the process: serializes the two-file commits and reads of
    // the readable format, so that a reader never pairs one write's .json with another write's .body.
    private static readonly SemaphoreSlim[] Stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    private static ReadOnlySpan<byte> Magic => "CHF1"u8;

    private readonly TimeSpan _tempFileRetention;

    /// <summary>Initializes a storage in <c>{directory}/{storeName}/</c>, creating the folder if needed.</summary>
    /// <param name="directory">
    /// The cache directory. A leading <c>~</c> is the user's home folder; a relative path is relative to the current
    /// directory, or to the temporary folder when <see cref="FileCacheOptions.UseTemp"/> is on.
    /// </param>
    /// <param name="storeName">The name of this store's subfolder (for example <c>responses</c> or <c>redirects</c>); a single path segment.</param>
    /// <param name="fileOptions">The options; defaults when null. They are validated and copied now.</param>
    /// <param name="timeProvider">The clock used to honour delete-after times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">
    /// <paramref name="directory"/> is empty, <paramref name="storeName"/> is not a plain folder name, or an option is invalid.
    /// </exception>
    /// <exception cref="IOException">The folder cannot be created.</exception>
    public FileCache(string directory, string storeName = DefaultStoreName, FileCacheOptions? fileOptions = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ValidateStoreName(storeName);
        fileOptions ??= new FileCacheOptions();
        fileOptions.Validate();

        RootDirectory = ResolveDirectory(directory, fileOptions.UseTemp);
        StoreName = storeName;
        StoreDirectory = Path.Combine(RootDirectory, storeName);
        FlushToDisk = fileOptions.FlushToDisk;
        ReadableFormat = fileOptions.ReadableFormat;
        _tempFileRetention = fileOptions.TempFileRetention;
        Directory.CreateDirectory(StoreDirectory);
    }

    /// <inheritdoc />
    public override string Name => "file";

    /// <summary>Gets the full path of the cache directory (the parent of <see cref="StoreDirectory"/>).</summary>
    public string RootDirectory { get; }

    /// <summary>Gets the name of this store's subfolder.</summary>
    public string StoreName { get; }

    /// <summary>Gets the full path of the folder that holds this store's files.</summary>
    public string StoreDirectory { get; }

    /// <summary>Gets a value indicating whether files are flushed to disk before being renamed into place (<see cref="FileCacheOptions.FlushToDisk"/>).</summary>
    public bool FlushToDisk { get; }

    /// <summary>Gets a value indicating whether entries are written as <c>.json</c> + <c>.body</c> pairs (<see cref="FileCacheOptions.ReadableFormat"/>).</summary>
    public bool ReadableFormat { get; }

    /// <summary>Gets the path of the file that holds (or would hold) <paramref name="key"/>: its <c>.chc</c> file, or its <c>.json</c> file in the readable format.</summary>
    /// <param name="key">The key.</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not well-formed Unicode (it contains a lone surrogate).</exception>
    public string GetEntryPath(string key)
    {
        var (_, hash) = HashKey(key);
        return EntryPath(hash, ReadableFormat ? JsonExtension : BinaryExtension);
    }

    /// <inheritdoc />
    public override async ValueTask<byte[]?> ReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var (keyBytes, hash) = HashKey(key);
        var path = EntryPath(hash, ReadableFormat ? JsonExtension : BinaryExtension);
        var entry = ReadableFormat
            ? await ReadReadableEntryAsync(hash, key, removeExpired: true, cancellationToken).ConfigureAwait(false)
            : await ReadBinaryEntryAsync(path, keyBytes, removeExpired: true, cancellationToken).ConfigureAwait(false);
        if (entry is not null)
        {
            Touch(path);
        }

        return entry?.Value;
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(string key, ReadOnlyMemory<byte> value, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        var (keyBytes, hash) = HashKey(key);
        if (ReadableFormat)
        {
            await WriteReadableAsync(key, hash, value, deleteAfter, cancellationToken).ConfigureAwait(false);
            return;
        }

        var path = EntryPath(hash, BinaryExtension);
        var header = BuildBinaryHeader(keyBytes, deleteAfter, value.Length);
        var temp = await WriteTempFileAsync(
            path,
            header.Length + value.Length,
            async (stream, token) =>
            {
                await stream.WriteAsync(header, token).ConfigureAwait(false);
                await stream.WriteAsync(value, token).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        await CommitEntryAsync(temp, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores the rest of <paramref name="content"/> under <paramref name="key"/>, replacing any previous value, without holding it whole in memory.</summary>
    /// <param name="key">The key.</param>
    /// <param name="content">The value, read from its current position to its end. It is not disposed.</param>
    /// <param name="deleteAfter">When the entry may be removed; <see langword="null"/> to keep it until deleted.</param>
    /// <param name="cancellationToken">A token to cancel the operation; a cancelled write leaves the previous value in place.</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not well-formed Unicode.</exception>
    public async ValueTask WriteStreamAsync(string key, Stream content, DateTimeOffset? deleteAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var (keyBytes, hash) = HashKey(key);
        if (ReadableFormat)
        {
            await WriteReadableStreamAsync(key, hash, content, deleteAfter, cancellationToken).ConfigureAwait(false);
            return;
        }

        var path = EntryPath(hash, BinaryExtension);
        var expected = content.CanSeek ? Math.Max(0, content.Length - content.Position) : 0;
        var header = BuildBinaryHeader(keyBytes, deleteAfter, expected);
        var temp = await WriteTempFileAsync(
            path,
            content.CanSeek ? header.Length + expected : 0,
            async (stream, token) =>
            {
                await stream.WriteAsync(header, token).ConfigureAwait(false);
                var written = await CopyAsync(content, stream, hash: null, token).ConfigureAwait(false);
                if (written != expected)
                {
                    // The length was not known up front (or the stream lied): patch it.
                    BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(header.Length - 8), written);
                    stream.Position = header.Length - 8;
                    await stream.WriteAsync(header.AsMemory(header.Length - 8), token).ConfigureAwait(false);
                }
            },
            cancellationToken).ConfigureAwait(false);
        await CommitEntryAsync(temp, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the value stored under <paramref name="key"/> for reading, without loading it into memory.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>
    /// A read-only, seekable stream positioned at the start of the value (its <see cref="Stream.Length"/> is the value's
    /// length), or <see langword="null"/> when the key is missing, past its delete-after time or its file is corrupt.
    /// The caller disposes it.
    /// </returns>
    /// <remarks>
    /// The stream keeps the file open: a later write of the key replaces the file for new readers, while this stream
    /// goes on reading the value it opened (on Windows such a write waits or fails until the stream is disposed). In the
    /// readable format the body's length is checked before the stream is returned, its SHA-256 only by <see cref="ReadAsync"/>.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not well-formed Unicode.</exception>
    public async ValueTask<Stream?> OpenReadStreamAsync(string key, CancellationToken cancellationToken = default)
    {
        var (keyBytes, hash) = HashKey(key);
        if (ReadableFormat)
        {
            return await OpenReadableStreamAsync(hash, key, cancellationToken).ConfigureAwait(false);
        }

        var path = EntryPath(hash, BinaryExtension);
        var (state, entry) = await OpenBinaryAsync(path, HeaderProbeSize, cancellationToken).ConfigureAwait(false);
        if (state == FileState.Corrupt)
        {
            DeleteQuietly(path);
        }

        if (entry is null)
        {
            return null;
        }

        if (!entry.KeyBytes.SequenceEqual(keyBytes))
        {
            entry.Dispose();
            return null;
        }

        if (IsPastDeleteAfter(entry.DeleteAfter))
        {
            entry.Dispose();
            DeleteQuietly(path);
            return null;
        }

        Touch(path);
        return new FileEntryStream(entry.DetachHandle(), [], entry.HeaderLength, entry.ValueLength);
    }

    /// <inheritdoc />
    public override async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var (_, hash) = HashKey(key);
        if (ReadableFormat)
        {
            return await DeleteReadableAsync(hash, cancellationToken).ConfigureAwait(false);
        }

        if (!DeleteEntryFile(EntryPath(hash, BinaryExtension), out var length))
        {
            return false;
        }

        Forget(length);
        return true;
    }

    /// <inheritdoc />
    /// <remarks>Reads only the entry's header, not its value.</remarks>
    public override async ValueTask<bool> ContainsAsync(string key, CancellationToken cancellationToken = default)
    {
        var (keyBytes, hash) = HashKey(key);
        if (ReadableFormat)
        {
            return await ContainsReadableAsync(hash, key, cancellationToken).ConfigureAwait(false);
        }

        var (_, entry) = await OpenBinaryAsync(EntryPath(hash, BinaryExtension), HeaderProbeSize, cancellationToken).ConfigureAwait(false);
        using (entry)
        {
            return entry is not null && entry.KeyBytes.SequenceEqual(keyBytes) && !IsPastDeleteAfter(entry.DeleteAfter);
        }
    }

    /// <inheritdoc />
    /// <remarks>Reads only the header of each file, not its value.</remarks>
    public override async IAsyncEnumerable<string> GetKeysAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var path in ListFiles(ReadableFormat ? JsonExtension : BinaryExtension))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? key;
            if (ReadableFormat)
            {
                var header = await ReadReadableHeaderAsync(path, cancellationToken).ConfigureAwait(false);
                key = header is not null && !IsPastDeleteAfter(header.DeleteAfter) && HasBody(Path.GetFileName(path)[..HashLength], header) ? header.Key : null;
            }
            else
            {
                var (_, entry) = await OpenBinaryAsync(path, HeaderProbeSize, cancellationToken).ConfigureAwait(false);
                using (entry)
                {
                    key = entry is not null && !IsPastDeleteAfter(entry.DeleteAfter) ? TryDecodeKey(entry.KeyBytes) : null;
                }
            }

            if (key is not null)
            {
                yield return key;
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Reads each file once. Entries past their delete-after time are skipped and left for
    /// <see cref="DeleteExpiredAsync"/> to remove and count.
    /// </remarks>
    public override async IAsyncEnumerable<KeyValuePair<string, byte[]>> GetEntriesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var path in ListFiles(ReadableFormat ? JsonExtension : BinaryExtension))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = ReadableFormat
                ? await ReadReadableEntryAsync(Path.GetFileName(path).AsSpan(0, HashLength).ToString(), expectedKey: null, removeExpired: false, cancellationToken).ConfigureAwait(false)
                : await ReadBinaryEntryAsync(path, expectedKey: null, removeExpired: false, cancellationToken).ConfigureAwait(false);
            if (entry is { Key: { } key, Value: { } value })
            {
                yield return new KeyValuePair<string, byte[]>(key, value);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Deletes only this storage's files — entry files of either format (<c>{hash}.chc</c>, <c>{hash}.json</c>,
    /// <c>{hash}.body</c>) and its temporary files — and leaves anything else in the folder alone.
    /// </remarks>
    public override ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        foreach (var path in ListFiles(extension: null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            DeleteQuietly(path);
        }

        InvalidateTotals();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Walks the folder reading only headers (both formats), and removes entries past their delete-after time, corrupt
    /// files, <c>.body</c> files without their <c>.json</c>, and temporary files older than
    /// <see cref="FileCacheOptions.TempFileRetention"/>. The count includes expired and corrupt entries.
    /// </remarks>
    public override async ValueTask<int> DeleteExpiredAsync(CancellationToken cancellationToken = default)
    {
        var removed = 0;
        foreach (var path in ListFiles(extension: null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetFileName(path.AsSpan());
            if (name.EndsWith(BinaryExtension, StringComparison.Ordinal))
            {
                var (state, entry) = await OpenBinaryAsync(path, HeaderProbeSize, cancellationToken).ConfigureAwait(false);
                var remove = state == FileState.Corrupt || (entry is not null && IsPastDeleteAfter(entry.DeleteAfter));
                entry?.Dispose();
                if (remove && DeleteQuietly(path))
                {
                    removed++;
                }
            }
            else if (name.EndsWith(JsonExtension, StringComparison.Ordinal))
            {
                if (await DeleteReadableIfExpiredAsync(name[..HashLength].ToString(), cancellationToken).ConfigureAwait(false))
                {
                    removed++;
                }
            }
            else if (name.EndsWith(BodyExtension, StringComparison.Ordinal))
            {
                // A body whose .json is missing: a crash between the two renames, or a write in progress.
                if (!File.Exists(Path.ChangeExtension(path, JsonExtension)) && IsOlderThanRetention(path))
                {
                    DeleteQuietly(path);
                }
            }
            else if (IsOlderThanRetention(path))
            {
                DeleteQuietly(path);
            }
        }

        if (removed > 0)
        {
            InvalidateTotals();
        }

        return removed;
    }

    /// <summary>Resolves a cache directory as described on the constructor, to a full path.</summary>
    internal static string ResolveDirectory(string directory, bool useTemp)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (directory == "~" || directory.StartsWith("~/", StringComparison.Ordinal) || directory.StartsWith("~\\", StringComparison.Ordinal))
        {
            directory = Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), directory.AsSpan(1).TrimStart("/\\"));
        }
        else if (useTemp && !Path.IsPathRooted(directory))
        {
            directory = Path.Combine(Path.GetTempPath(), directory);
        }

        return Path.GetFullPath(directory);
    }

    private static void ValidateStoreName(string storeName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(storeName);
        if (storeName is "." or ".."
            || storeName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0
            || storeName.IndexOfAny(['/', '\\', ':']) >= 0)
        {
            throw new ArgumentException($"The store name '{storeName}' must be a plain folder name.", nameof(storeName));
        }
    }

    private static (byte[] KeyBytes, string Hash) HashKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        byte[] keyBytes;
        try
        {
            keyBytes = StrictUtf8.GetBytes(key);
        }
        catch (EncoderFallbackException ex)
        {
            throw new ArgumentException("The key is not well-formed Unicode (it contains a lone surrogate).", nameof(key), ex);
        }

        return (keyBytes, Convert.ToHexStringLower(SHA256.HashData(keyBytes)));
    }

    private static string? TryDecodeKey(ReadOnlySpan<byte> keyBytes)
    {
        try
        {
            return StrictUtf8.GetString(keyBytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private string EntryPath(string hash, string extension) => Path.Combine(StoreDirectory, hash + extension);

    private static byte[] BuildBinaryHeader(byte[] keyBytes, DateTimeOffset? deleteAfter, long valueLength)
    {
        var header = new byte[FixedHeaderSize + keyBytes.Length];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), (uint)keyBytes.Length);
        keyBytes.CopyTo(header.AsSpan(8));
        var deleteAfterMs = deleteAfter is { } at ? Math.Max(0, at.ToUnixTimeMilliseconds()) : -1;
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8 + keyBytes.Length), deleteAfterMs);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16 + keyBytes.Length), valueLength);
        return header;
    }

    /// <summary>Reads a whole binary entry; a corrupt file is deleted, an expired one too when asked. With no expected key, the key is decoded from the file.</summary>
    private async ValueTask<StoredEntry?> ReadBinaryEntryAsync(string path, byte[]? expectedKey, bool removeExpired, CancellationToken cancellationToken)
    {
        var (state, entry) = await OpenBinaryAsync(path, SmallFileSize, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            if (state == FileState.Corrupt)
            {
                DeleteQuietly(path);
            }

            return null;
        }

        string? key;
        byte[]? value = null;
        var remove = false;
        using (entry)
        {
            key = expectedKey is null ? TryDecodeKey(entry.KeyBytes) : null;
            if (expectedKey is not null && !entry.KeyBytes.SequenceEqual(expectedKey))
            {
                return null; // another key with the same SHA-256: not this entry, and not corrupt
            }

            if (expectedKey is null && key is null)
            {
                remove = true;
            }
            else if (IsPastDeleteAfter(entry.DeleteAfter))
            {
                remove = removeExpired;
            }
            else if (entry.ValueLength > Array.MaxLength)
            {
                throw new InvalidOperationException($"The value of {entry.ValueLength} bytes is too large for an array; use {nameof(OpenReadStreamAsync)}.");
            }
            else
            {
                value = GC.AllocateUninitializedArray<byte>((int)entry.ValueLength);
                var buffered = Math.Min(entry.Buffered - entry.HeaderLength, value.Length);
                entry.Buffer.AsSpan(entry.HeaderLength, buffered).CopyTo(value);
                var rest = value.AsMemory(buffered);
                if (await ReadFullyAsync(entry.Handle, rest, entry.HeaderLength + buffered, cancellationToken).ConfigureAwait(false) < rest.Length)
                {
                    value = null;
                    remove = true; // shrank while being read
                }
            }
        }

        if (remove)
        {
            DeleteQuietly(path);
            return null;
        }

        return new StoredEntry(key, value!);
    }

    /// <summary>Opens a binary entry file and checks its header against the file's length.</summary>
    /// <param name="path">The file.</param>
    /// <param name="probeSize">How many bytes to read at first (the whole file when it is smaller).</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    private static async ValueTask<(FileState State, BinaryEntry? Entry)> OpenBinaryAsync(string path, int probeSize, CancellationToken cancellationToken)
    {
        var handle = TryOpenRead(path);
        if (handle is null)
        {
            return (FileState.Missing, null);
        }

        byte[]? buffer = null;
        try
        {
            var fileLength = RandomAccess.GetLength(handle);
            if (fileLength < FixedHeaderSize)
            {
                return (FileState.Corrupt, null);
            }

            var want = (int)Math.Min(fileLength, Math.Max(probeSize, FixedHeaderSize));
            buffer = ArrayPool<byte>.Shared.Rent(want);
            var got = await ReadFullyAsync(handle, buffer.AsMemory(0, want), 0, cancellationToken).ConfigureAwait(false);
            if (got < FixedHeaderSize || !buffer.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            {
                return (FileState.Corrupt, null);
            }

            var keyLength = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4));
            if (keyLength > fileLength - FixedHeaderSize)
            {
                return (FileState.Corrupt, null);
            }

            var headerLength = FixedHeaderSize + (int)keyLength;
            if (headerLength > got)
            {
                // A long key: read the rest of the header.
                var larger = ArrayPool<byte>.Shared.Rent(headerLength);
                buffer.AsSpan(0, got).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = larger;
                got += await ReadFullyAsync(handle, buffer.AsMemory(got, headerLength - got), got, cancellationToken).ConfigureAwait(false);
                if (got < headerLength)
                {
                    return (FileState.Corrupt, null);
                }
            }

            var deleteAfterMs = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(8 + (int)keyLength));
            var valueLength = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(16 + (int)keyLength));
            if (deleteAfterMs < -1 || deleteAfterMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() || valueLength != fileLength - headerLength)
            {
                return (FileState.Corrupt, null);
            }

            var entry = new BinaryEntry(handle, buffer, got, (int)keyLength, deleteAfterMs == -1 ? null : DateTimeOffset.FromUnixTimeMilliseconds(deleteAfterMs), valueLength);
            handle = null;
            buffer = null;
            return (FileState.Ok, entry);
        }
        finally
        {
            handle?.Dispose();
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Opens a file for reading, or returns null when it does not exist (or is being deleted, on Windows).</summary>
    private static SafeFileHandle? TryOpenRead(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, ReadShare, ReadOptions);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException
            || (ex is UnauthorizedAccessException && OperatingSystem.IsWindows()))
        {
            return null;
        }
    }

    private static async ValueTask<int> ReadFullyAsync(SafeFileHandle handle, Memory<byte> buffer, long fileOffset, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer[total..], fileOffset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>Writes a new temporary file next to <paramref name="finalPath"/> and returns its path; deletes it on failure.</summary>
    private async ValueTask<string> WriteTempFileAsync(string finalPath, long preallocationSize, Func<FileStream, CancellationToken, ValueTask> writeContent, CancellationToken cancellationToken)
    {
        var temp = TempPath(finalPath);
        try
        {
            var stream = OpenTempFile(temp, preallocationSize);
            await using (stream.ConfigureAwait(false))
            {
                await writeContent(stream, cancellationToken).ConfigureAwait(false);
                if (FlushToDisk)
                {
                    stream.Flush(flushToDisk: true);
                }
            }

            // The last-write time is the entry's last use (size bounds evict the oldest): from this storage's clock.
            File.SetLastWriteTimeUtc(temp, TimeProvider.GetUtcNow().UtcDateTime);
            return temp;
        }
        catch
        {
            DeleteQuietly(temp);
            throw;
        }
    }

    private FileStream OpenTempFile(string temp, long preallocationSize)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            Options = FileOptions.Asynchronous,
            BufferSize = 0,
            PreallocationSize = preallocationSize,
        };
        try
        {
            return new FileStream(temp, options);
        }
        catch (DirectoryNotFoundException)
        {
            // The folder was removed behind our back (for example by hand): recreate it once.
            Directory.CreateDirectory(StoreDirectory);
            return new FileStream(temp, options);
        }
    }

    /// <summary>Renames a written temporary file over the entry's file (last rename wins); deletes the temporary file on failure.</summary>
    private static async ValueTask CommitAsync(string temp, string finalPath, CancellationToken cancellationToken)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    File.Move(temp, finalPath, overwrite: true);
                    return;
                }
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
                {
                    return; // a concurrent Clear removed our temporary file: the write happened before the clear
                }
                catch (Exception ex) when (attempt < MoveAttempts && OperatingSystem.IsWindows() && ex is UnauthorizedAccessException or IOException)
                {
                    // Windows refuses to replace a file that another process is replacing or holds open without delete sharing.
                    await Task.Delay(1 << attempt, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            DeleteQuietly(temp);
            throw;
        }
    }

    /// <summary>Copies a stream to the end, optionally hashing what it copies, and returns the number of bytes copied.</summary>
    private static async ValueTask<long> CopyAsync(Stream source, Stream destination, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            long total = 0;
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash?.AppendData(buffer, 0, read);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                total += read;
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Deletes an entry file by renaming it away first, so that exactly one of several concurrent deleters reports it.</summary>
    private static bool DeleteEntryFile(string path) => DeleteEntryFile(path, out _);

    /// <summary>Deletes an entry file as <see cref="DeleteEntryFile(string)"/> does, and tells its length.</summary>
    private static bool DeleteEntryFile(string path, out long length)
    {
        length = 0;
        var tomb = TempPath(path);
        try
        {
            File.Move(path, tomb);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }

        length = FileLength(tomb) ?? 0;
        DeleteQuietly(tomb);
        return true;
    }

    private static bool DeleteQuietly(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private bool IsOlderThanRetention(string path)
    {
        try
        {
            return TimeProvider.GetUtcNow() - File.GetLastWriteTimeUtc(path) > _tempFileRetention;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string TempPath(string finalPath)
        => Path.Combine(Path.GetDirectoryName(finalPath)!, "." + Path.GetFileName(finalPath) + "." + Guid.NewGuid().ToString("N") + TempExtension);

    /// <summary>
    /// Lists this storage's files: the entry files with <paramref name="extension"/>, or, when it is null, every file
    /// the storage may own (entry files of both formats and temporary files).
    /// </summary>
    private List<string> ListFiles(string? extension)
    {
        var result = new List<string>();
        IEnumerable<string> files;
        try
        {
            files = Directory.EnumerateFiles(StoreDirectory, extension is null ? "*" : "*" + extension, new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0 });
            foreach (var path in files)
            {
                var name = Path.GetFileName(path.AsSpan());
                if (extension is null ? IsEntryFileName(name, out _) || IsTempFileName(name) : IsEntryFileName(name, out var found) && found == extension)
                {
                    result.Add(path);
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing stored.
        }

        return result;
    }

    /// <summary>Tells whether a file name is <c>{64 lowercase hex}.chc|.json|.body</c>.</summary>
    internal static bool IsEntryFileName(ReadOnlySpan<char> name, out string? extension)
    {
        extension = null;
        if (name.Length <= HashLength || !IsLowerHex(name[..HashLength]))
        {
            return false;
        }

        var suffix = name[HashLength..];
        extension = suffix.SequenceEqual(BinaryExtension) ? BinaryExtension
            : suffix.SequenceEqual(JsonExtension) ? JsonExtension
            : suffix.SequenceEqual(BodyExtension) ? BodyExtension
            : null;
        return extension is not null;
    }

    /// <summary>Tells whether a file name is one of this storage's temporary files: <c>.{entry file name}.{32 hex}.tmp</c>.</summary>
    internal static bool IsTempFileName(ReadOnlySpan<char> name)
    {
        if (name.Length < 1 + HashLength + 1 + GuidLength + TempExtension.Length || name[0] != '.' || !name.EndsWith(TempExtension, StringComparison.Ordinal))
        {
            return false;
        }

        var inner = name[1..^TempExtension.Length];
        var dot = inner.Length - GuidLength - 1;
        return inner[dot] == '.' && IsLowerHex(inner[(dot + 1)..]) && IsEntryFileName(inner[..dot], out _);
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text) => !text.ContainsAnyExcept("0123456789abcdef");

    private static SemaphoreSlim Stripe(string hash) => Stripes[int.Parse(hash.AsSpan(0, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) % Stripes.Length];

    private enum FileState
    {
        Missing,
        Corrupt,
        Ok,
    }

    private sealed record StoredEntry(string? Key, byte[] Value);

    /// <summary>An open binary entry file whose header was checked; owns the handle and a pooled buffer with the file's first bytes.</summary>
    private sealed class BinaryEntry(SafeFileHandle handle, byte[] buffer, int buffered, int keyLength, DateTimeOffset? deleteAfter, long valueLength) : IDisposable
    {
        private SafeFileHandle? _handle = handle;
        private byte[]? _buffer = buffer;

        public SafeFileHandle Handle => _handle ?? throw new ObjectDisposedException(nameof(BinaryEntry));

        public byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(BinaryEntry));

        public int Buffered { get; } = buffered;

        public int HeaderLength => FixedHeaderSize + keyLength;

        public ReadOnlySpan<byte> KeyBytes => Buffer.AsSpan(8, keyLength);

        public DateTimeOffset? DeleteAfter { get; } = deleteAfter;

        public long ValueLength { get; } = valueLength;

        /// <summary>Hands the open handle to the caller and releases the rest.</summary>
        public SafeFileHandle DetachHandle()
        {
            var detached = Handle;
            _handle = null;
            Dispose();
            return detached;
        }

        public void Dispose()
        {
            _handle?.Dispose();
            _handle = null;
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
        }
    }
}
