using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;

namespace CachedHttp.Tests.Integration.DynamoDB;

/// <summary>
/// Finds the DynamoDB endpoint of the tests (dynalite in CI): <c>CACHEDHTTP_DYNAMODB_URL</c>, default
/// <c>http://127.0.0.1:4567</c>. Unreachable → the test is Ignored, except with <c>CI=true</c>, where it fails.
/// </summary>
internal static class DynamoDbServer
{
    private static readonly Lazy<Task<string?>> Reachability = new(ProbeAsync);

    public static string Url => Environment.GetEnvironmentVariable("CACHEDHTTP_DYNAMODB_URL") is { Length: > 0 } url ? url : "http://127.0.0.1:4567";

    public static AWSCredentials Credentials { get; } = new BasicAWSCredentials("x", "x");

    public static AmazonDynamoDBClient CreateClient(string? url = null, TimeSpan? timeout = null)
    {
        var config = new AmazonDynamoDBConfig { ServiceURL = url ?? Url, AuthenticationRegion = "us-east-1" };
        if (timeout is { } t)
        {
            config.Timeout = t;
            config.MaxErrorRetry = 0;
        }

        return new AmazonDynamoDBClient(Credentials, config);
    }

    /// <summary>Returns a client of the test server, or ends the test: Ignored (or failed with CI=true) when it does not answer.</summary>
    public static async Task<AmazonDynamoDBClient> ConnectOrIgnoreAsync()
    {
        var problem = await Reachability.Value;
        if (problem is not null)
        {
            var message = $"No DynamoDB at {Url} (set CACHEDHTTP_DYNAMODB_URL or run ci/servers.sh start): {problem}";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(message);
            }

            Assert.Ignore(message);
        }

        return CreateClient();
    }

    public static async Task DeleteTableQuietlyAsync(IAmazonDynamoDB client, string table)
    {
        try
        {
            await client.DeleteTableAsync(new DeleteTableRequest { TableName = table });
        }
        catch (AmazonServiceException)
        {
            // Already gone.
        }
    }

    /// <summary>Every item key of a table, by raw Scan (chunk items included).</summary>
    public static async Task<List<string>> RawKeysAsync(IAmazonDynamoDB client, string table)
    {
        var keys = new List<string>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await client.ScanAsync(new ScanRequest { TableName = table, ProjectionExpression = "k", ExclusiveStartKey = start });
            keys.AddRange((page.Items ?? []).Select(item => item["k"].S));
            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
        return keys;
    }

    /// <summary>The path of dynalite's cli.js: <c>CACHEDHTTP_DYNALITE_CLI</c>, else <c>.ci/node/node_modules/dynalite/cli.js</c> of this repository; null when absent.</summary>
    public static string? DynaliteCli()
    {
        if (Environment.GetEnvironmentVariable("CACHEDHTTP_DYNALITE_CLI") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, ".ci", "node", "node_modules", "dynalite", "cli.js");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string?> ProbeAsync()
    {
        try
        {
            using var client = CreateClient(timeout: TimeSpan.FromSeconds(3));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ListTablesAsync(new ListTablesRequest { Limit = 1 }, cts.Token);
            return null;
        }
        catch (Exception ex)
        {
            return ex.GetType().Name + ": " + ex.Message;
        }
    }
}

/// <summary>A dynalite process of a test's own, on a free port, which the test can stop and start again.</summary>
internal sealed class DynaliteProcess : IAsyncDisposable
{
    private readonly string _cli;
    private readonly string _dataPath;
    private Process? _process;

    private DynaliteProcess(string cli, int port, string dataPath)
    {
        _cli = cli;
        Port = port;
        _dataPath = dataPath;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Starts dynalite with its data on disk (so a restart keeps the tables), or ignores the test when node or dynalite is absent.</summary>
    public static async Task<DynaliteProcess> StartOrIgnoreAsync()
    {
        var cli = DynamoDbServer.DynaliteCli();
        if (cli is null)
        {
            Assert.Ignore("dynalite's cli.js not found: set CACHEDHTTP_DYNALITE_CLI or run ci/servers.sh start (installs .ci/node)");
        }

        var data = Path.Combine(Path.GetTempPath(), "cachedhttp-dynalite-" + Guid.NewGuid().ToString("N")[..8]);
        var process = new DynaliteProcess(cli!, DynamoDbServer.FreePort(), data);
        await process.StartAsync();
        return process;
    }

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { _cli, "--host", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--path", _dataPath, "--createTableMs", "0", "--deleteTableMs", "0" })
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            _process = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Ignore("node is not installed, so the test cannot run its own dynalite: " + ex.Message);
        }

        _process!.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"dynalite exited at once with code {_process.ExitCode}");
            }

            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        Assert.Fail($"dynalite did not listen on port {Port} within 20 s");
    }

    private async Task SignalAsync(string signal)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            Assert.Ignore("pausing a process with a signal needs a Unix system");
        }

        var process = _process ?? throw new InvalidOperationException("dynalite is not running");
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
        kill.ExitCode.Should().Be(0, $"kill {signal} {process.Id} succeeds");
    }

    /// <summary>
    /// Freezes the process (SIGSTOP): its port still accepts connections (the kernel queues them) but nothing answers,
    /// so storage calls hang instead of failing. Only this test's own process is signalled.
    /// </summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Lets a paused process run again (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dataPath, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Wraps a client to count calls by method name (and to show that Dispose was, or was not, called).</summary>
public class RecordingDynamoDb : DispatchProxy
{
    public IAmazonDynamoDB Target { get; private set; } = null!;

    public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    public int Count(string method) => Calls.TryGetValue(method, out var count) ? count : 0;

    public static (IAmazonDynamoDB Client, RecordingDynamoDb Recorder) Wrap(IAmazonDynamoDB target)
    {
        var proxy = Create<IAmazonDynamoDB, RecordingDynamoDb>();
        var recorder = (RecordingDynamoDb)(object)proxy;
        recorder.Target = target;
        return (proxy, recorder);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        Calls.AddOrUpdate(targetMethod.Name, 1, (_, count) => count + 1);
        if (targetMethod.Name == nameof(IDisposable.Dispose))
        {
            return null; // recorded only: the real client stays usable, which is what a shared client must be
        }

        try
        {
            return targetMethod.Invoke(Target, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
    }
}
