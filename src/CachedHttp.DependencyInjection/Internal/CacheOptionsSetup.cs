using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CachedHttp.DependencyInjection.Internal;

/// <summary>Fills in, from the container, the services a cache's options leave unset: the logger factory and the clock.</summary>
internal sealed class CacheOptionsServices(IServiceProvider services) : IPostConfigureOptions<CacheOptions>
{
    public void PostConfigure(string? name, CacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.LoggerFactory ??= services.GetService<ILoggerFactory>();
        if (ReferenceEquals(options.TimeProvider, TimeProvider.System) && services.GetService<TimeProvider>() is { } clock)
        {
            options.TimeProvider = clock;
        }
    }
}

/// <summary>
/// Validates a cache's options when they are created (at start-up with <c>ValidateOnStart</c>): every configuration
/// key that did not bind, then <see cref="CacheOptions.Validate"/>, each message naming the configuration key when the
/// value came from configuration (<c>CachedHttp:AllowedCodes contains 42, …</c>).
/// </summary>
internal sealed class CacheOptionsValidator(IOptionsMonitor<HttpCacheRegistration> registrations) : IValidateOptions<CacheOptions>
{
    public ValidateOptionsResult Validate(string? name, CacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sections = registrations.Get(name ?? Options.DefaultName).Sections;
        var failures = new List<string>();
        foreach (var section in sections)
        {
            failures.AddRange(CacheOptionsConfiguration.Bind(section, new CacheOptions()));
        }

        if (failures.Count > 0)
        {
            return ValidateOptionsResult.Fail(failures);
        }

        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail(Describe(ex, sections));
        }
    }

    private static string Describe(ArgumentException exception, List<IConfiguration> sections)
    {
        var option = exception.ParamName;
        var message = exception.Message;
        if (option is null)
        {
            return message;
        }

        // "CacheOptions.AllowedCodes contains 42, … (Parameter 'AllowedCodes')" → "contains 42, …"
        var suffix = $" (Parameter '{option}')";
        if (message.EndsWith(suffix, StringComparison.Ordinal))
        {
            message = message[..^suffix.Length];
        }

        var prefix = $"CacheOptions.{option} ";
        if (!message.StartsWith(prefix, StringComparison.Ordinal))
        {
            return message;
        }

        // The last section that sets the key decides its value, so it is the one to name.
        // A nested option ("CircuitBreaker.FailureThreshold") is a nested key in configuration ("CircuitBreaker:FailureThreshold").
        var key = sections.Select(s => s.GetSection(option.Replace('.', ':'))).LastOrDefault(s => s.Exists());
        return key is null ? message : $"{key.Path} {message[prefix.Length..]}";
    }
}
