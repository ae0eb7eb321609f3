namespace CachedHttp.Sqlite.Internal;

/// <summary>A connection taken from a pool for one operation; disposing gives it back.</summary>
internal readonly struct ConnectionLease : IDisposable
{
    private readonly SqliteConnectionPool _pool;

    public ConnectionLease(SqliteConnectionPool pool, PooledConnection connection)
    {
        _pool = pool;
        Connection = connection;
    }

    public PooledConnection Connection { get; }

    public void Dispose() => _pool.Return(Connection);
}
