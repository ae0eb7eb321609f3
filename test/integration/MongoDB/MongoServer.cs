using System.ComponentModel;
using System.Diagnostics;
using MongoDB.Bson;
using MongoDB.Driver;
using Testcontainers.MongoDb;

namespace CachedHttp.Tests.Integration.MongoDB;

/// <summary>
/// The MongoDB server of the tests, found once per test run: <c>CACHEDHTTP_MONGODB_URI</c> when set; otherwise a
/// Testcontainers <c>mongo</c> container when Docker is available; otherwise the tests are Ignored with the reason.
/// Never a fake: no server, no pass.
/// </summary>
internal static class MongoServer
{
    public const string Image = "mongo:7.0";
    private const string NoServer = "No MongoDB server: set CACHEDHTTP_MONGODB_URI or run Docker (Testcontainers)";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static bool _resolved;
    private static string? _connectionString;
    private static string? _problem;
    private static bool _problemIsFailure;
    private static MongoDbContainer? _container;
    private static MongoClient? _client;

    /// <summary>The connection string of the server, or ends the test (Ignored, or failed where a server was promised).</summary>
    public static async Task<string> ConnectionStringOrIgnoreAsync()
    {
        await ResolveAsync();
        if (_connectionString is not null)
        {
            return _connectionString;
        }

        if (_problemIsFailure)
        {
            Assert.Fail(_problem ?? NoServer);
        }

        Assert.Ignore(_problem ?? NoServer);
        return null!;
    }

    /// <summary>A fresh database of the shared client (drop it with <see cref="DropQuietlyAsync"/>).</summary>
    public static async Task<IMongoDatabase> NewDatabaseOrIgnoreAsync()
    {
        await ConnectionStringOrIgnoreAsync();
        return _client!.GetDatabase("cachedhttp-test-" + Guid.NewGuid().ToString("N")[..10]);
    }

    public static async Task DropQuietlyAsync(IMongoDatabase? database)
    {
        if (database is null)
        {
            return;
        }

        try
        {
            await database.Client.DropDatabaseAsync(database.DatabaseNamespace.DatabaseName);
        }
        catch (MongoException ex)
        {
            TestContext.Out.WriteLine($"Dropping {database.DatabaseNamespace.DatabaseName} failed: {ex.Message}");
        }
    }

    /// <summary>Stops the container this run started (if any); called once at the end of the run.</summary>
    public static async Task StopAsync()
    {
        _client?.Dispose();
        _client = null;
        if (_container is not null)
        {
            await _container.DisposeAsync();
            _container = null;
        }
    }

    private static async Task ResolveAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_resolved)
            {
                return;
            }

            _resolved = true;
            var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
            if (Environment.GetEnvironmentVariable("CACHEDHTTP_MONGODB_URI") is { Length: > 0 } uri)
            {
                // A server was named: not reaching it is a failure, not a skip.
                await ConnectAsync(uri, source: "CACHEDHTTP_MONGODB_URI", failureIsFatal: true);
                return;
            }

            if (!await DockerAvailableAsync())
            {
                _problem = NoServer;
                return;
            }

            try
            {
                _container = new MongoDbBuilder(Image).Build();
                await _container.StartAsync();
            }
            catch (Exception ex)
            {
                _problem = $"{NoServer} — Docker answered but the {Image} container did not start: {ex.GetType().Name}: {ex.Message}";
                _problemIsFailure = ci;
                return;
            }

            await ConnectAsync(_container.GetConnectionString(), source: "Testcontainers " + Image, failureIsFatal: ci);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task ConnectAsync(string connectionString, string source, bool failureIsFatal)
    {
        try
        {
            var settings = MongoClientSettings.FromConnectionString(connectionString);
            settings.ServerSelectionTimeout = TimeSpan.FromSeconds(10);
            var client = new MongoClient(settings);
            await client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1));
            _client = client;
            _connectionString = connectionString;
        }
        catch (Exception ex)
        {
            _problem = $"MongoDB from {source} did not answer a ping: {ex.GetType().Name}: {ex.Message}";
            _problemIsFailure = failureIsFatal;
        }
    }

    /// <summary>Docker is available when DOCKER_HOST is set or <c>docker info</c> exits 0 within 15 seconds.</summary>
    private static async Task<bool> DockerAvailableAsync()
    {
        if (Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 })
        {
            return true;
        }

        try
        {
            using var process = Process.Start(new ProcessStartInfo("docker", "info")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return false;
            }

            var drain = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            await drain;
            return process.ExitCode == 0;
        }
        catch (Win32Exception)
        {
            return false; // no docker executable
        }
    }
}

/// <summary>Stops the shared MongoDB container once, after every test of this namespace.</summary>
[SetUpFixture]
public sealed class MongoServerLifetime
{
    [OneTimeTearDown]
    public Task StopServer() => MongoServer.StopAsync();
}
