using System.Text.RegularExpressions;
using Amazon.Runtime;

namespace CachedHttp.DynamoDB;

/// <summary>
/// Settings of a <see cref="DynamoDbCache"/> and a <see cref="DynamoDbBackend"/>: the table, how it is created, how
/// large values are split, and (when the cache creates its own client) where DynamoDB is.
/// </summary>
/// <remarks>
/// Validated once, when a cache or backend is constructed (<see cref="Validate"/>); an invalid value throws an
/// <see cref="ArgumentException"/> naming the option. Do not change the options after that.
/// </remarks>
public sealed partial class DynamoDbCacheOptions
{
    /// <summary>The largest allowed <see cref="ChunkSize"/>: 390 KiB, which leaves room under DynamoDB's 400 KB item limit for the key and the other attributes.</summary>
    public const int MaxChunkSize = 390 * 1024;

    /// <summary>The attribute names the cache uses itself; <see cref="TtlAttributeName"/> must differ from them.</summary>
    private static readonly string[] ReservedAttributeNames = ["k", "v", "n", "size", "w", "exp", "of"];

    /// <summary>Gets or sets the name of the table that holds both stores (responses and redirects) of a backend.</summary>
    /// <value>The default value is <c>aiohttp-cache</c>, the original's cache name.</value>
    public string TableName { get; set; } = "aiohttp-cache";

    /// <summary>
    /// Gets or sets a value indicating whether the table is created on first use when it does not exist (and the cache
    /// waits until it is ACTIVE), and DynamoDB's Time to Live is enabled on <see cref="TtlAttributeName"/>.
    /// </summary>
    /// <remarks>
    /// When off, the table must exist with a string partition key named <c>k</c>, and enabling TTL is up to its owner
    /// (the cache still writes the attribute and still hides expired items when it reads).
    /// </remarks>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool CreateIfNotExists { get; set; } = true;

    /// <summary>
    /// Gets or sets the name of the Time to Live attribute: the delete-after time of an item, in seconds since the Unix
    /// epoch (a number), rounded up.
    /// </summary>
    /// <remarks>
    /// DynamoDB deletes expired items in the background, up to about 48 hours late; reads hide them meanwhile.
    /// Some emulators (dynalite) do not implement <c>UpdateTimeToLive</c>: enabling TTL then fails, which is logged and
    /// otherwise ignored.
    /// </remarks>
    /// <value>The default value is <c>delete_after</c>.</value>
    public string TtlAttributeName { get; set; } = "delete_after";

    /// <summary>Gets or sets the provisioned read capacity units of a table the cache creates; with <see cref="WriteCapacity"/>, or both null for on-demand billing.</summary>
    /// <value>The default value is <see langword="null"/>: the table is created with on-demand (<c>PAY_PER_REQUEST</c>) billing.</value>
    public long? ReadCapacity { get; set; }

    /// <summary>Gets or sets the provisioned write capacity units of a table the cache creates; with <see cref="ReadCapacity"/>, or both null for on-demand billing.</summary>
    /// <value>The default value is <see langword="null"/>: the table is created with on-demand (<c>PAY_PER_REQUEST</c>) billing.</value>
    public long? WriteCapacity { get; set; }

    /// <summary>
    /// Gets or sets the number of value bytes per item. A larger value is split into a head item and chunk items,
    /// written and read in batches, because one DynamoDB item holds at most 400 KB.
    /// </summary>
    /// <value>The default value is 350 KiB; at most <see cref="MaxChunkSize"/>.</value>
    public int ChunkSize { get; set; } = 350 * 1024;

    /// <summary>Gets or sets how long one DynamoDB request may take before it is cancelled (<see cref="Timeout.InfiniteTimeSpan"/> for no limit).</summary>
    /// <remarks>Measured with the system clock, since it bounds network I/O; a cache's own <see cref="TimeProvider"/> decides expiry only.</remarks>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets a value indicating whether reads are strongly consistent, so that a value is visible to every reader as soon as its write returns.</summary>
    /// <value>The default value is <see langword="true"/> (strongly consistent reads cost twice the read capacity of eventually consistent ones).</value>
    public bool ConsistentRead { get; set; } = true;

    /// <summary>Gets or sets the largest number of items one Scan request evaluates when keys are listed, counted or cleared.</summary>
    /// <value>The default value is <see langword="null"/>: DynamoDB's own page size (1 MB of data).</value>
    public int? ScanPageSize { get; set; }

    /// <summary>
    /// Gets or sets the endpoint of DynamoDB, for DynamoDB Local, dynalite or a VPC endpoint (for example
    /// <c>http://127.0.0.1:4567</c>). Used only when the cache creates its own client.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the endpoint of <see cref="Region"/>.</value>
    public string? ServiceUrl { get; set; }

    /// <summary>
    /// Gets or sets the AWS region (for example <c>eu-west-1</c>). Used only when the cache creates its own client; with
    /// <see cref="ServiceUrl"/> it is the region requests are signed for.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the AWS SDK's default region resolution (environment, profile).</value>
    public string? Region { get; set; }

    /// <summary>Gets or sets the credentials. Used only when the cache creates its own client.</summary>
    /// <remarks>Emulators accept any credentials, for example <c>new BasicAWSCredentials("x", "x")</c>.</remarks>
    /// <value>The default value is <see langword="null"/>: the AWS SDK's default credential chain.</value>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>Checks every option and throws on the first invalid one.</summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        Require(TableName is not null && TableNamePattern().IsMatch(TableName), nameof(TableName),
            $"'{TableName}' is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')");
        Require(!string.IsNullOrWhiteSpace(TtlAttributeName), nameof(TtlAttributeName), "must not be empty");
        Require(!ReservedAttributeNames.Contains(TtlAttributeName, StringComparer.Ordinal), nameof(TtlAttributeName),
            $"'{TtlAttributeName}' is used by the cache itself ({string.Join(", ", ReservedAttributeNames)})");
        Require(ChunkSize is > 0 and <= MaxChunkSize, nameof(ChunkSize), $"must be between 1 and {MaxChunkSize} bytes (DynamoDB items hold at most 400 KB), not {ChunkSize}");
        Require(ReadCapacity.HasValue == WriteCapacity.HasValue, ReadCapacity.HasValue ? nameof(WriteCapacity) : nameof(ReadCapacity),
            "must be set together with the other capacity (provisioned billing), or both left null (on-demand billing)");
        Require(ReadCapacity is null or >= 1, nameof(ReadCapacity), "must be at least 1");
        Require(WriteCapacity is null or >= 1, nameof(WriteCapacity), "must be at least 1");
        Require(OperationTimeout > TimeSpan.Zero || OperationTimeout == Timeout.InfiniteTimeSpan, nameof(OperationTimeout), "must be positive or Timeout.InfiniteTimeSpan");
        Require(ScanPageSize is null or >= 1, nameof(ScanPageSize), "must be at least 1");
        Require(ServiceUrl is null || (Uri.TryCreate(ServiceUrl, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)),
            nameof(ServiceUrl), $"'{ServiceUrl}' is not an absolute http or https URL");
        Require(Region is null || !string.IsNullOrWhiteSpace(Region), nameof(Region), "must not be empty");
    }

    private static void Require(bool condition, string name, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"DynamoDbCacheOptions.{name} {message}.", name);
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9_.-]{3,255}$")]
    private static partial Regex TableNamePattern();
}
