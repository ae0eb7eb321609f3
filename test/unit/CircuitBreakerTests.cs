using CachedHttp.Internal;
using Microsoft.Extensions.Time.Testing;

namespace CachedHttp.Tests.Unit;

/// <summary>The state machine of the storage circuit breaker: closed → open → half-open → closed or open again.</summary>
[Parallelizable(ParallelScope.All)]
public class CircuitBreakerTests
{
    private static readonly TimeSpan Break = TimeSpan.FromSeconds(30);

    private static (CircuitBreaker Breaker, FakeTimeProvider Time) Create(int threshold = 3)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        return (new CircuitBreaker(new CircuitBreakerOptions { FailureThreshold = threshold, BreakDuration = Break }, time), time);
    }

    private static void Fail(CircuitBreaker breaker, int times)
    {
        for (var i = 0; i < times; i++)
        {
            breaker.OnFailure(breaker.TryEnter());
        }
    }

    [Test]
    public void TryEnter_New_IsAllowed()
    {
        var (breaker, _) = Create();

        breaker.TryEnter().Should().Be(CircuitPermit.Allowed);
        breaker.State.Should().Be(CircuitState.Closed);
    }

    [Test]
    public void OnFailure_BelowThreshold_StaysClosed()
    {
        var (breaker, _) = Create(threshold: 3);

        breaker.OnFailure(breaker.TryEnter()).Should().Be(CircuitTransition.None);
        breaker.OnFailure(breaker.TryEnter()).Should().Be(CircuitTransition.None);

        breaker.State.Should().Be(CircuitState.Closed);
        breaker.ConsecutiveFailures.Should().Be(2);
        breaker.TryEnter().Should().Be(CircuitPermit.Allowed);
    }

    [Test]
    public void OnSuccess_AfterFailures_ResetsTheCount()
    {
        var (breaker, _) = Create(threshold: 3);
        Fail(breaker, 2);

        breaker.OnSuccess(breaker.TryEnter()).Should().Be(CircuitTransition.None);
        Fail(breaker, 2);

        breaker.State.Should().Be(CircuitState.Closed, "the failures were not consecutive");
        breaker.ConsecutiveFailures.Should().Be(2);
    }

    [Test]
    public void OnFailure_AtThreshold_OpensAndRejectsUntilTheBreakIsOver()
    {
        var (breaker, time) = Create(threshold: 3);
        Fail(breaker, 2);

        breaker.OnFailure(breaker.TryEnter()).Should().Be(CircuitTransition.Opened);

        breaker.State.Should().Be(CircuitState.Open);
        breaker.TryEnter().Should().Be(CircuitPermit.Rejected);
        time.Advance(Break - TimeSpan.FromTicks(1));
        breaker.TryEnter().Should().Be(CircuitPermit.Rejected);
    }

    [Test]
    public void TryEnter_BreakOver_LetsOneTrialThroughAndRejectsTheRest()
    {
        var (breaker, time) = Create(threshold: 1);
        Fail(breaker, 1);
        time.Advance(Break);

        breaker.TryEnter().Should().Be(CircuitPermit.Trial);
        breaker.State.Should().Be(CircuitState.HalfOpen);
        breaker.TryEnter().Should().Be(CircuitPermit.Rejected);
        breaker.TryEnter().Should().Be(CircuitPermit.Rejected);
    }

    [Test]
    public void OnSuccess_Trial_ClosesTheCircuit()
    {
        var (breaker, time) = Create(threshold: 1);
        Fail(breaker, 1);
        time.Advance(Break);
        var trial = breaker.TryEnter();

        breaker.OnSuccess(trial).Should().Be(CircuitTransition.Closed);

        breaker.State.Should().Be(CircuitState.Closed);
        breaker.ConsecutiveFailures.Should().Be(0);
        breaker.TryEnter().Should().Be(CircuitPermit.Allowed);
    }

    [Test]
    public void OnFailure_Trial_ReopensForAnotherBreak()
    {
        var (breaker, time) = Create(threshold: 1);
        Fail(breaker, 1);
        time.Advance(Break);
        var trial = breaker.TryEnter();

        breaker.OnFailure(trial).Should().Be(CircuitTransition.Opened);

        breaker.State.Should().Be(CircuitState.Open);
        time.Advance(Break - TimeSpan.FromSeconds(1));
        breaker.TryEnter().Should().Be(CircuitPermit.Rejected, "the break starts again at the failed trial");
        time.Advance(TimeSpan.FromSeconds(1));
        breaker.TryEnter().Should().Be(CircuitPermit.Trial);
    }

    [Test]
    public void OnCancelled_Trial_LetsTheNextCallTryAtOnce()
    {
        var (breaker, time) = Create(threshold: 1);
        Fail(breaker, 1);
        time.Advance(Break);
        var trial = breaker.TryEnter();

        breaker.OnCancelled(trial);

        breaker.State.Should().Be(CircuitState.HalfOpen);
        breaker.TryEnter().Should().Be(CircuitPermit.Trial);
    }

    [Test]
    public void TryEnter_TrialNeverReports_AnotherTrialAfterABreakDuration()
    {
        var (breaker, time) = Create(threshold: 1);
        Fail(breaker, 1);
        time.Advance(Break);
        breaker.TryEnter().Should().Be(CircuitPermit.Trial);

        time.Advance(Break);

        breaker.TryEnter().Should().Be(CircuitPermit.Trial, "a hung trial must not hold the circuit open for ever");
    }

    [Test]
    public void Outcomes_OfCallsStartedWhileClosed_DoNotMoveAnOpenOrHalfOpenCircuit()
    {
        var (breaker, time) = Create(threshold: 1);
        var late = breaker.TryEnter();
        Fail(breaker, 1);

        breaker.OnFailure(late).Should().Be(CircuitTransition.None);
        breaker.OnSuccess(late).Should().Be(CircuitTransition.None);
        breaker.State.Should().Be(CircuitState.Open);

        time.Advance(Break);
        breaker.TryEnter().Should().Be(CircuitPermit.Trial);
        breaker.OnSuccess(late).Should().Be(CircuitTransition.None);
        breaker.OnFailure(late).Should().Be(CircuitTransition.None);
        breaker.State.Should().Be(CircuitState.HalfOpen);
    }

    [Test]
    public void OnFailure_ManyThreadsAtOnce_OpensExactlyOnce()
    {
        var (breaker, _) = Create(threshold: 10);
        var opened = 0;

        Parallel.For(0, 1000, _ =>
        {
            if (breaker.OnFailure(breaker.TryEnter()) == CircuitTransition.Opened)
            {
                Interlocked.Increment(ref opened);
            }
        });

        opened.Should().Be(1);
        breaker.State.Should().Be(CircuitState.Open);
    }
}
