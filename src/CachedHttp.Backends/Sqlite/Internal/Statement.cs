namespace CachedHttp.Sqlite.Internal;

/// <summary>
/// One SQL statement with its parameter names. Each pooled connection prepares it once and keeps the prepared
/// command, found by this object's identity.
/// </summary>
internal sealed class Statement
{
    public Statement(string sql, params string[] parameters)
    {
        Sql = sql;
        Parameters = parameters;
    }

    public string Sql { get; }

    public string[] Parameters { get; }

    public override string ToString() => Sql;
}
