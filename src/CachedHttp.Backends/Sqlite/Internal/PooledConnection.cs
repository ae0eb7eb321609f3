using Microsoft.Data.Sqlite;

namespace CachedHttp.Sqlite.Internal;

/// <summary>
/// An open connection with the per-connection pragmas applied and the commands prepared on it so far. Used by one
/// operation at a time: the pool hands it out and takes it back.
/// </summary>
internal sealed class PooledConnection : IDisposable
{
    private readonly Dictionary<Statement, SqliteCommand> _commands = [];

    public PooledConnection(SqliteConnection connection)
    {
        Connection = connection;
    }

    public SqliteConnection Connection { get; }

    /// <summary>Gets a value indicating whether the connection can serve another operation: open and outside any transaction.</summary>
    public bool IsReusable
        => Connection.State == System.Data.ConnectionState.Open
            && Connection.Handle is { } handle
            && SQLitePCL.raw.sqlite3_get_autocommit(handle) != 0;

    /// <summary>Gets the command of <paramref name="statement"/> on this connection, prepared the first time.</summary>
    public SqliteCommand Command(Statement statement)
    {
        if (!_commands.TryGetValue(statement, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = statement.Sql;
            foreach (var name in statement.Parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            command.Prepare();
            _commands.Add(statement, command);
        }

        return command;
    }

    /// <summary>Runs a statement that is used once (schema changes, pragmas), without keeping it prepared.</summary>
    public object? ExecuteScalar(string sql, SqliteTransaction? transaction = null, params (string Name, object Value)[] parameters)
    {
        using var command = Connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command.ExecuteScalar();
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        Connection.Dispose();
    }
}
