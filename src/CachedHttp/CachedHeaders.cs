using System.Collections;

namespace CachedHttp;

/// <summary>
/// An immutable, ordered, multi-valued list of HTTP header fields with case-insensitive lookup.
/// </summary>
public sealed class CachedHeaders : IReadOnlyList<KeyValuePair<string, string[]>>
{
    private readonly KeyValuePair<string, string[]>[] _fields;

    /// <summary>Initializes a header list from name/values pairs (copied).</summary>
    public CachedHeaders(IEnumerable<KeyValuePair<string, string[]>> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        _fields = fields.Select(f => new KeyValuePair<string, string[]>(f.Key, [.. f.Value])).ToArray();
    }

    private CachedHeaders(KeyValuePair<string, string[]>[] fields, bool owned) => _fields = fields;

    /// <summary>Gets an empty header list.</summary>
    public static CachedHeaders Empty { get; } = new([], owned: true);

    /// <inheritdoc />
    public int Count => _fields.Length;

    /// <inheritdoc />
    public KeyValuePair<string, string[]> this[int index] => _fields[index];

    /// <summary>Gets the values of the field named <paramref name="name"/> (case-insensitive).</summary>
    public bool TryGetValues(string name, out string[] values)
    {
        foreach (var field in _fields)
        {
            if (string.Equals(field.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                values = field.Value;
                return true;
            }
        }

        values = [];
        return false;
    }

    /// <summary>Gets the values of <paramref name="name"/> joined with <c>", "</c>, or <see langword="null"/> when absent.</summary>
    public string? GetValue(string name) => TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    /// <summary>Tells whether a field named <paramref name="name"/> is present.</summary>
    public bool Contains(string name) => TryGetValues(name, out _);

    /// <summary>Returns a copy in which each field of <paramref name="updates"/> replaces the field of the same name, and new fields are appended.</summary>
    /// <param name="updates">The fields that replace existing ones.</param>
    /// <param name="excluded">Names of fields of <paramref name="updates"/> that are not taken.</param>
    public CachedHeaders Merge(IEnumerable<KeyValuePair<string, string[]>> updates, ISet<string>? excluded = null)
    {
        ArgumentNullException.ThrowIfNull(updates);
        var result = new List<KeyValuePair<string, string[]>>(_fields);
        foreach (var update in updates)
        {
            if (excluded?.Contains(update.Key) == true)
            {
                continue;
            }

            var index = result.FindIndex(f => string.Equals(f.Key, update.Key, StringComparison.OrdinalIgnoreCase));
            var field = new KeyValuePair<string, string[]>(update.Key, [.. update.Value]);
            if (index >= 0)
            {
                result[index] = field;
            }
            else
            {
                result.Add(field);
            }
        }

        return new CachedHeaders(result.ToArray(), owned: true);
    }

    /// <summary>Returns a copy without the fields named in <paramref name="names"/>.</summary>
    public CachedHeaders Without(ICollection<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        return new CachedHeaders(_fields.Where(f => !names.Contains(f.Key)).ToArray(), owned: true);
    }

    internal static CachedHeaders FromOwned(KeyValuePair<string, string[]>[] fields) => fields.Length == 0 ? Empty : new(fields, owned: true);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string[]>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, string[]>>)_fields).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
