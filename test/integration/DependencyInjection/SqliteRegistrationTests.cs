using CachedHttp.DependencyInjection;
using CachedHttp.Sqlite;
using CachedHttp.Tests.Integration.Foundation;
using Microsoft.Extensions.DependencyInjection;

namespace CachedHttp.Tests.Integration.DependencyInjection;

/// <summary>AddSqliteHttpCache: a backend package's one-line registration over UseBackend.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class SqliteRegistrationTests : OriginFixture
{
    [Test]
    public async Task AddSqliteHttpCache_ClientNamedLikeTheCache_StoresInTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "cachedhttp-di-" + Unique() + ".sqlite");
        try
        {
            var services = new ServiceCollection();
            services.AddSqliteHttpCache(path, o => o.ExpireAfter = TimeSpan.FromMinutes(5), name: "origin");
            services.AddHttpClient("origin", c => c.BaseAddress = Origin.BaseAddress).AddHttpCaching();
            var u = Unique();
            await using (var provider = services.BuildServiceProvider())
            {
                var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("origin");
                (await client.GetAsync("/json?u=" + u)).Dispose();
                using var hit = await client.GetAsync("/json?u=" + u);

                hit.IsFromCache().Should().BeTrue();
                var cache = provider.GetRequiredService<IHttpCacheProvider>().GetCache("origin");
                cache.Should().BeOfType<SqliteBackend>().Which.Path.Should().Be(path);
                (await cache.CountAsync()).Should().Be(1);
            }

            // The container closed the file; a new one reads what the first stored.
            await using var reopened = new SqliteBackend(path);
            (await reopened.CountAsync()).Should().Be(1);
        }
        finally
        {
            foreach (var file in Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + "*"))
            {
                File.Delete(file);
            }
        }
    }

    [Test]
    public void AddSqliteHttpCache_BadFileSetting_ThrowsAtRegistration()
    {
        var services = new ServiceCollection();

        var register = () => services.AddSqliteHttpCache("cache", configureSqlite: o => o.BusyTimeout = TimeSpan.FromSeconds(-1));

        register.Should().Throw<ArgumentException>();
    }
}
