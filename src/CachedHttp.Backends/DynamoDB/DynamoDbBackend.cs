using Amazon.DynamoDBv2;
using CachedHttp.DynamoDB.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CachedHttp.DynamoDB;

/// <summary>
/// A <see cref="CacheBackend"/> whose two stores live in one DynamoDB table (<see cref="DynamoDbCacheOptions.TableName"/>),
/// keys namespaced <c>resp:</c> and <c>redir:</c> as in the original.
/// </summary>
/// <remarks>
/// <para>Thread-safe; meant to be a singleton. See <see cref="DynamoDbCache"/> for the storage layout, expiry and large values.</para>
/// <para>
/// <b>Ownership.</b> A client passed in is never disposed by the backend. A client the backend creates from
/// <see cref="DynamoDbCacheOptions.ServiceUrl"/>/<see cref="DynamoDbCacheOptions.Region"/> is disposed with it.
/// </para>
/// </remarks>
public class DynamoDbBackend : CacheBackend
{
    private readonly IDisposable? _ownedClient;

    /// <summary>Initializes a backend over a DynamoDB client the caller owns.</summary>
    /// <param name="client">The client; shared, never disposed by the backend.</param>
    /// <param name="options">The caching options; defaults when null. Validated now.</param>
    /// <param name="dynamoOptions">The table options; defaults when null. Validated now; the client-creation options are ignored.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public DynamoDbBackend(IAmazonDynamoDB client, CacheOptions? options = null, DynamoDbCacheOptions? dynamoOptions = null)
        : this(NewTable(client ?? throw new ArgumentNullException(nameof(client)), DynamoDbCache.Validated(dynamoOptions), options), ownsClient: false, options)
    {
    }

    /// <summary>
    /// Initializes a backend with a client of its own, created from <see cref="DynamoDbCacheOptions.ServiceUrl"/>,
    /// <see cref="DynamoDbCacheOptions.Region"/> and <see cref="DynamoDbCacheOptions.Credentials"/>, and disposed with the backend.
    /// </summary>
    /// <param name="dynamoOptions">The table and connection options. Validated now.</param>
    /// <param name="options">The caching options; defaults when null. Validated now.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public DynamoDbBackend(DynamoDbCacheOptions dynamoOptions, CacheOptions? options = null)
        : this(NewTable(CreateClient(dynamoOptions, options), dynamoOptions, options), ownsClient: true, options)
    {
    }

    private DynamoDbBackend(DynamoDbTable table, bool ownsClient, CacheOptions? options)
        : base(options, (validated, store) => new DynamoDbCache(table, StoreName(store), ownedClient: false, validated.TimeProvider))
    {
        // Both stores share the table object, so the table is described (or created) once, not once per store.
        _ownedClient = ownsClient ? table.Client : null;
        DynamoOptions = table.Options;
    }

    /// <summary>Gets the table options.</summary>
    public DynamoDbCacheOptions DynamoOptions { get; }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _ownedClient?.Dispose();
        }
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        await base.DisposeAsyncCore().ConfigureAwait(false);
        _ownedClient?.Dispose();
    }

    /// <summary>The store name (key namespace) of a backend store: <c>resp</c> and <c>redir</c>, as the original.</summary>
    private static string StoreName(string store) => store switch
    {
        "responses" => "resp",
        "redirects" => "redir",
        _ => store,
    };

    private static AmazonDynamoDBClient CreateClient(DynamoDbCacheOptions dynamoOptions, CacheOptions? options)
    {
        ArgumentNullException.ThrowIfNull(dynamoOptions);
        dynamoOptions.Validate();

        // Validate the caching options before a client exists, so that a bad option leaks nothing.
        (options ?? new CacheOptions()).Validate();
        RejectSizeBounds(options);
        return DynamoDbTable.CreateClient(dynamoOptions);
    }

    /// <summary>
    /// Rejects <see cref="CacheOptions.MaxEntries"/> and <see cref="CacheOptions.MaxBytes"/> before a client is created,
    /// so that the rejection leaks no connection (the base constructor rejects them too, once the stores exist).
    /// </summary>
    private static void RejectSizeBounds(CacheOptions? options)
    {
        var option = options?.MaxEntries is not null ? nameof(CacheOptions.MaxEntries) : options?.MaxBytes is not null ? nameof(CacheOptions.MaxBytes) : null;
        if (option is not null)
        {
            throw new ArgumentException(
                $"CacheOptions.{option} is not supported by the dynamodb storage, which has its own eviction (see the backends documentation); use MaxEntryBytes and expiration instead.",
                option);
        }
    }

    private static DynamoDbTable NewTable(IAmazonDynamoDB client, DynamoDbCacheOptions dynamoOptions, CacheOptions? options)
    {
        var logger = (ILogger?)options?.LoggerFactory?.CreateLogger("CachedHttp.DynamoDB") ?? NullLogger.Instance;
        return new DynamoDbTable(client, dynamoOptions, logger);
    }
}
