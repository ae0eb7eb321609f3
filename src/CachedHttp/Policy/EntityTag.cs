namespace CachedHttp.Policy;

/// <summary>An entity tag (RFC 9110 §8.8.3) and the strong and weak comparisons of §8.8.3.2.</summary>
/// <param name="Opaque">The opaque tag, quotes included.</param>
/// <param name="IsWeak">Whether the tag carried the <c>W/</c> weakness indicator.</param>
internal readonly record struct EntityTag(string Opaque, bool IsWeak)
{
    /// <summary>Parses one entity tag. A value that is not a well-formed tag is kept whole as a strong opaque value, so that
    /// identical malformed values still compare equal (a lenient recipient) and never throw.</summary>
    public static EntityTag? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var trimmed = text.Trim();
        return trimmed.StartsWith("W/", StringComparison.Ordinal)
            ? new EntityTag(trimmed[2..].Trim(), true)
            : new EntityTag(trimmed, false);
    }

    /// <summary>Parses an <c>If-None-Match</c>-style list (commas inside quotes do not split).</summary>
    public static List<EntityTag> ParseList(string? text)
    {
        var tags = new List<EntityTag>();
        if (string.IsNullOrEmpty(text))
        {
            return tags;
        }

        var start = 0;
        var quoted = false;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] == '"')
            {
                quoted = !quoted;
            }

            if (i == text.Length || (text[i] == ',' && !quoted))
            {
                if (Parse(text[start..i]) is { } tag)
                {
                    tags.Add(tag);
                }

                start = i + 1;
            }
        }

        return tags;
    }

    /// <summary>Strong comparison: both strong and identical opaque tags.</summary>
    public bool StrongEquals(EntityTag other) => !IsWeak && !other.IsWeak && string.Equals(Opaque, other.Opaque, StringComparison.Ordinal);

    /// <summary>Weak comparison: identical opaque tags, weakness ignored.</summary>
    public bool WeakEquals(EntityTag other) => string.Equals(Opaque, other.Opaque, StringComparison.Ordinal);
}
