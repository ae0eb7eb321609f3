namespace CachedHttp.Cli;

/// <summary>A bad command line: one clear line for the user, exit code 2.</summary>
public sealed class CliUsageException(string message) : Exception(message);

/// <summary>Parsed command line: command, positional arguments, <c>--name value</c> options and flags.</summary>
public sealed class CliArguments
{
    private static readonly HashSet<string> ValueOptions = ["cache", "expire", "older-than", "port"];
    private static readonly HashSet<string> FlagOptions = ["include", "json", "refresh", "expired", "help", "include-expired", "gzip", "skip-existing", "quiet"];

    public string? Command { get; private init; }

    public List<string> Positional { get; } = [];

    public HashSet<string> Flags { get; } = [];

    public Dictionary<string, string> Values { get; } = [];

    public string? Get(string name) => Values.TryGetValue(name, out var value) ? value : null;

    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        string? command = null;
        var result = new List<string>();
        var flags = new HashSet<string>();
        var values = new Dictionary<string, string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-i")
            {
                flags.Add("include");
            }
            else if (arg is "-h" or "--help")
            {
                flags.Add("help");
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var name = arg[2..];
                string? inline = null;
                var equals = name.IndexOf('=', StringComparison.Ordinal);
                if (equals >= 0)
                {
                    inline = name[(equals + 1)..];
                    name = name[..equals];
                }

                if (ValueOptions.Contains(name) || InspectionCommands.ValueOptions.Contains(name))
                {
                    var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new CliUsageException($"--{name} needs a value"));
                    values[name] = value;
                }
                else if (FlagOptions.Contains(name) && inline is null)
                {
                    flags.Add(name);
                }
                else
                {
                    throw new CliUsageException($"unknown option '{arg}'");
                }
            }
            else if (command is null)
            {
                command = arg;
            }
            else
            {
                result.Add(arg);
            }
        }

        var parsed = new CliArguments { Command = command };
        parsed.Positional.AddRange(result);
        parsed.Flags.UnionWith(flags);
        foreach (var pair in values)
        {
            parsed.Values[pair.Key] = pair.Value;
        }

        return parsed;
    }
}

/// <summary>A plain-text table with aligned columns.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public async Task WriteAsync(TextWriter output)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        await output.WriteLineAsync(string.Join("  ", headers.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (var row in _rows)
        {
            await output.WriteLineAsync(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }
    }
}
