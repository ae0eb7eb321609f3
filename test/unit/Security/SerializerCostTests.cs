using System.Diagnostics;
using CachedHttp.Internal;
using static CachedHttp.Tests.Unit.Security.SecurityTestData;

namespace CachedHttp.Tests.Unit.Security;

/// <summary>Informative cost of each pipeline stage (run on demand: <c>--filter Name~SerializerCost</c>, Release build).</summary>
[Explicit("A measurement, not a check; run it on demand.")]
public class SerializerCostTests
{
    private const int Iterations = 10_000;

    [Test]
    public void SerializeThenDeserialize_16KiBJson_Cost()
    {
        var response = Json(16 * 1024) with { Url = new Uri("https://api.example.com/v1/items?page=3") };
        var lines = new List<string> { $"{Iterations} x serialize + deserialize of a {response.Body.Length} B JSON response" };
        var pipelines = new (string Name, EntrySerializer Serializer)[]
        {
            ("none", Serializer()),
            ("signed", Serializer(sign: true)),
            ("encrypted", Serializer(encrypt: true)),
            ("signed+encrypted", Serializer(sign: true, encrypt: true)),
            ("brotli", Serializer(compression: CacheCompression.Brotli)),
            ("gzip", Serializer(compression: CacheCompression.GZip)),
            ("brotli+encrypted", Serializer(encrypt: true, compression: CacheCompression.Brotli)),
        };

        // Warm every pipeline first, so that tiered compilation of shared code is not charged to the first one measured.
        for (var i = 0; i < 2000; i++)
        {
            foreach (var pipeline in pipelines)
            {
                pipeline.Serializer.Deserialize(pipeline.Serializer.Serialize(response, Key), Key);
            }
        }

        foreach (var (name, serializer) in pipelines)
        {
            var bytes = serializer.Serialize(response, Key);

            // The best of three rounds, wall clock and process CPU time: on a shared machine the minimum is the least disturbed.
            var (write, read, writeCpu, readCpu) = (double.MaxValue, double.MaxValue, double.MaxValue, double.MaxValue);
            var process = Process.GetCurrentProcess();
            for (var round = 0; round < 3; round++)
            {
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                var stopwatch = Stopwatch.StartNew();
                for (var i = 0; i < Iterations; i++)
                {
                    bytes = serializer.Serialize(response, Key);
                }

                write = Math.Min(write, stopwatch.Elapsed.TotalMicroseconds / Iterations);
                process.Refresh();
                writeCpu = Math.Min(writeCpu, (process.TotalProcessorTime - cpu).TotalMicroseconds / Iterations);
                cpu = process.TotalProcessorTime;
                stopwatch.Restart();
                for (var i = 0; i < Iterations; i++)
                {
                    serializer.Deserialize(bytes, Key);
                }

                read = Math.Min(read, stopwatch.Elapsed.TotalMicroseconds / Iterations);
                process.Refresh();
                readCpu = Math.Min(readCpu, (process.TotalProcessorTime - cpu).TotalMicroseconds / Iterations);
            }

            lines.Add($"{name,-18} stored {bytes.Length,6} B  serialize {write,6:F1} µs (cpu {writeCpu,6:F1})  deserialize {read,6:F1} µs (cpu {readCpu,6:F1})  total {write + read,6:F1} µs");
        }

        TestContext.Out.WriteLine(string.Join(Environment.NewLine, lines));
    }
}
