using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CachedHttp.Tests.Integration.Redis;

/// <summary>
/// A redis-server process of the test's own, on a free loopback port, that the test can kill and restart (an outage
/// of the shared servers would break the other tests). The binary is <c>CACHEDHTTP_REDIS_SERVER_BIN</c>, else
/// <c>redis-server</c> on the PATH.
/// </summary>
internal sealed class DedicatedRedisServer : IAsyncDisposable
{
    public const string BinaryVariable = "CACHEDHTTP_REDIS_SERVER_BIN";

    private readonly string _binary;
    private readonly string _directory;
    private Process? _process;

    private DedicatedRedisServer(string binary, int port)
    {
        _binary = binary;
        Port = port;
        _directory = Directory.CreateTempSubdirectory("cachedhttp-redis-").FullName;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>Starts a server on a free port; ignores (or, in CI, fails) the test when there is no redis-server binary.</summary>
    public static async Task<DedicatedRedisServer> StartAsync()
    {
        var server = new DedicatedRedisServer(FindBinaryOrIgnore(), FreePort());
        await server.RestartAsync();
        return server;
    }

    /// <summary>A port with nothing listening on it (free a moment ago).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the server (again) on the same port and waits until it answers PING.</summary>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The server is running.");
        }

        var start = new ProcessStartInfo(_binary) { UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", _directory, "--logfile", Path.Combine(_directory, "redis.log"),
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {_binary}.");
        var deadline = Stopwatch.StartNew();
        while (!await AnswersPingAsync())
        {
            if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                var log = File.Exists(Path.Combine(_directory, "redis.log")) ? await File.ReadAllTextAsync(Path.Combine(_directory, "redis.log")) : "";
                Assert.Fail($"redis-server on port {Port} did not start: {log}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills the server at once (SIGKILL): an outage, not a clean shutdown.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        _process = null;
        await Task.Yield();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A temp directory left behind is harmless.
        }
    }

    private async Task<bool> AnswersPingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(1));
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
        {
            return false;
        }
    }

    private static string FindBinaryOrIgnore()
    {
        if (Environment.GetEnvironmentVariable(BinaryVariable) is { Length: > 0 } configured)
        {
            if (File.Exists(configured))
            {
                return configured;
            }

            RedisTestServers.IgnoreOrFail($"{BinaryVariable}={configured} does not exist");
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, OperatingSystem.IsWindows() ? "redis-server.exe" : "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        RedisTestServers.IgnoreOrFail($"redis-server not found: set {BinaryVariable} or put redis-server on the PATH (ci/servers.sh installs it)");
        throw new UnreachableException();
    }
}
