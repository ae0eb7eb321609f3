using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>
/// Binds <see cref="CacheOptions"/> from a configuration section, and reports every bad key by its full path
/// (<c>CachedHttp:ExpireAfter: 'soon' is not an expiration …</c>) instead of stopping at the first one.
/// </summary>
/// <remarks>
/// <para>
/// Not <c>ConfigurationBinder</c>, for three reasons. The binder adds to a collection that already has items, so
/// <c>"AllowedCodes": [203]</c> would give <c>{ 200, 203 }</c>; here a collection in configuration replaces the default.
/// Its errors stop at the first bad value and name the type, not the value. And it ignores unknown keys, so a typo such
/// as <c>ExpireAftr</c> would pass silently; here it is an error.
/// </para>
/// <para>
/// Scalars convert with their <see cref="TypeConverter"/> (so <see cref="Expiration"/> parses <c>15m</c>, <c>-1</c>, …).
/// A set or a list takes an array, or one comma-separated value (handy in environment variables). A nested options
/// object (<see cref="CacheOptions.CircuitBreaker"/>) takes a section of its own keys. A map takes an
/// object, whose keys cannot contain <c>:</c> (the configuration path separator), or an array of
/// <c>{ "Pattern": …, "Expiration": … }</c> objects, which keeps its order and allows any pattern.
/// </para>
/// </remarks>
internal static class CacheOptionsConfiguration
{
    private static readonly Dictionary<string, PropertyInfo> Properties = PropertiesOf(typeof(CacheOptions));

    /// <summary>The options objects bound from a nested section (<c>"CircuitBreaker": { "FailureThreshold": 3 }</c>), with their properties.</summary>
    private static readonly Dictionary<Type, Dictionary<string, PropertyInfo>> Sections = new()
    {
        [typeof(CircuitBreakerOptions)] = PropertiesOf(typeof(CircuitBreakerOptions)),
    };

    /// <summary>Binds the section's keys into <paramref name="options"/>; a bad key is skipped and reported.</summary>
    /// <returns>One message per bad key, each starting with the key's full configuration path.</returns>
    public static List<string> Bind(IConfiguration section, CacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        BindObject(section, options, Properties, errors);
        return errors;
    }

    private static Dictionary<string, PropertyInfo> PropertiesOf(Type type) => type
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.SetMethod is { IsPublic: true })
        .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    private static void BindObject(IConfiguration section, object target, Dictionary<string, PropertyInfo> properties, List<string> errors)
    {
        foreach (var child in section.GetChildren())
        {
            var path = child.Path;
            if (!properties.TryGetValue(child.Key, out var property))
            {
                errors.Add($"{path}: {target.GetType().Name} has no option '{child.Key}'.");
                continue;
            }

            if (TryConvertProperty(child, path, property, property.GetValue(target), errors, out var value))
            {
                property.SetValue(target, value);
            }
        }
    }

    private static bool TryConvertProperty(IConfigurationSection child, string path, PropertyInfo property, object? current, List<string> errors, out object? value)
    {
        value = null;
        var type = property.PropertyType;
        if (Sections.TryGetValue(type, out var nested))
        {
            if (child.Value is { Length: > 0 })
            {
                errors.Add($"{path}: expected a section of {type.Name} keys, not '{child.Value}'.");
                return false;
            }

            // A copy of the current value, so that keys the section leaves out keep it, and an instance shared by code is not changed.
            value = current is null ? Activator.CreateInstance(type)! : type.GetMethod("Clone", Type.EmptyTypes)!.Invoke(current, null)!;
            var before = errors.Count;
            BindObject(child, value, nested, errors);
            return errors.Count == before;
        }

        if (GenericArgumentsOf(type, typeof(IDictionary<,>)) is [var keyType, var valueType] && keyType == typeof(string))
        {
            return TryConvertMap(child, path, valueType, errors, out value);
        }

        if (GenericArgumentsOf(type, typeof(ISet<>)) is [var setItem])
        {
            return TryConvertCollection(child, path, setItem, CreateSet(setItem, current), errors, out value);
        }

        if (GenericArgumentsOf(type, typeof(IList<>)) is [var listItem])
        {
            return TryConvertCollection(child, path, listItem, Activator.CreateInstance(typeof(List<>).MakeGenericType(listItem))!, errors, out value);
        }

        if (!CanConvert(type))
        {
            errors.Add($"{path}: CacheOptions.{property.Name} cannot be set from configuration; set it in code.");
            return false;
        }

        if (child.Value is null)
        {
            errors.Add($"{path}: expected a single value, not a section.");
            return false;
        }

        return TryConvert(child.Value, type, path, errors, out value);
    }

    private static bool TryConvertMap(IConfigurationSection child, string path, Type valueType, List<string> errors, out object? value)
    {
        var map = Activator.CreateInstance(typeof(OrderedDictionary<,>).MakeGenericType(typeof(string), valueType), StringComparer.Ordinal)!;
        var add = map.GetType().GetMethod("Add", [typeof(string), valueType])!;
        var ok = true;
        value = map;
        if (child.Value is { Length: > 0 })
        {
            errors.Add($"{path}: expected a map of pattern to value, not '{child.Value}'.");
            return false;
        }

        foreach (var entry in child.GetChildren())
        {
            var entryPath = $"{path}:{entry.Key}";
            string key;
            string text;
            if (entry.Value is null && entry.GetChildren().Any())
            {
                // The array form: [ { "Pattern": "...", "Expiration": "..." } ] keeps its order and allows ':' in patterns.
                var field = new[] { "Expiration", "ExpireAfter" }.FirstOrDefault(f => entry[f] is not null);
                if (entry["Pattern"] is not { } pattern || field is null)
                {
                    errors.Add($"{entryPath}: expected \"Pattern\" and \"Expiration\".");
                    ok = false;
                    continue;
                }

                key = pattern;
                text = entry[field]!;
                entryPath += ":" + field;
            }
            else
            {
                key = entry.Key;
                text = entry.Value ?? string.Empty;
            }

            if (TryConvert(text, valueType, entryPath, errors, out var converted))
            {
                add.Invoke(map, [key, converted]);
            }
            else
            {
                ok = false;
            }
        }

        return ok;
    }

    private static bool TryConvertCollection(IConfigurationSection child, string path, Type itemType, object collection, List<string> errors, out object? value)
    {
        value = collection;
        var add = collection.GetType().GetMethod("Add", [itemType])!;
        var items = child.Value is { } single
            ? single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => (Path: path, Value: (string?)v))
            : child.GetChildren().Select(c => (Path: $"{path}:{c.Key}", c.Value));
        var ok = true;
        foreach (var (itemPath, text) in items)
        {
            if (text is null)
            {
                errors.Add($"{itemPath}: expected a single value, not a section.");
                ok = false;
            }
            else if (TryConvert(text, itemType, itemPath, errors, out var converted))
            {
                add.Invoke(collection, [converted]);
            }
            else
            {
                ok = false;
            }
        }

        return ok;
    }

    private static bool TryConvert(string text, Type type, string path, List<string> errors, out object? value)
    {
        value = null;
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null && text.Length == 0)
        {
            return true;
        }

        var target = underlying ?? type;
        if (target == typeof(TimeSpan) && text.Length > 0 && char.IsAsciiLetter(text[^1])
            && Expiration.TryParse(text, out var duration) && duration.Kind == ExpirationKind.After)
        {
            // "15m", "2h": the duration forms of Expiration; plain numbers stay TimeSpan's own (days).
            value = duration.TimeSpan;
            return true;
        }

        try
        {
            value = TypeDescriptor.GetConverter(target).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception ex)
        {
            var formatError = ex as FormatException ?? ex.InnerException as FormatException;
            errors.Add(target == typeof(Expiration) && formatError is not null
                ? $"{path}: {formatError.Message}"
                : $"{path}: '{text}' is not {Describe(target)}.");
            return false;
        }
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) => "a whole number",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(TimeSpan) => "a time span such as 00:15:00 or 15m",
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type)),
        _ => "a valid " + type.Name,
    };

    private static bool CanConvert(Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        return target == typeof(string) || TypeDescriptor.GetConverter(target).CanConvertFrom(typeof(string));
    }

    private static object CreateSet(Type itemType, object? current)
    {
        // Keep the default's comparer (AllowedMethods is case-insensitive).
        var comparer = current?.GetType().GetProperty("Comparer")?.GetValue(current);
        var setType = typeof(HashSet<>).MakeGenericType(itemType);
        return comparer is null ? Activator.CreateInstance(setType)! : Activator.CreateInstance(setType, comparer)!;
    }

    private static Type[]? GenericArgumentsOf(Type type, Type openInterface)
        => type.IsGenericType && type.GetGenericTypeDefinition() == openInterface ? type.GetGenericArguments() : null;
}
