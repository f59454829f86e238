"""L{SerialJobs}: jobs handed to a thread runner one at a time, in the order
given, a keyed job standing for the one of its key still waiting; and
L{runInline}, the runner that runs a job at once."""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred

from mcpgateway.runtime.threads import SerialJobs, runInline
from tests.fakes import HandThreads


def results(d: Deferred[Any]) -> list[Any]:
    """What C{d} fired with, so far (a list the test reads later)."""
    seen: list[Any] = []
    d.addBoth(seen.append)
    return seen


def test_one_job_at_a_time_in_the_order_given() -> None:
    threads = HandThreads()
    jobs = SerialJobs(threads)
    ran: list[str] = []

    def job(name: str) -> str:
        ran.append(name)
        return name.upper()

    first = results(jobs.run(lambda: job("a")))
    second = results(jobs.run(lambda: job("b")))
    third = results(jobs.run(lambda: job("c")))
    assert len(threads.jobs) == 1  # the others wait for it, not in the pool
    threads.runNext()
    assert (ran, first, second) == (["a"], ["A"], [])
    assert len(threads.jobs) == 1
    threads.runAll()
    assert (ran, second, third) == (["a", "b", "c"], ["B"], ["C"])
    assert not jobs.busy


def test_a_keyed_job_stands_for_the_one_of_its_key_still_waiting() -> None:
    """The running one is never replaced; the waiting one is, and whoever
    waited for it hears when its successor has run, which goes last."""
    threads = HandThreads()
    jobs = SerialJobs(threads)
    ran: list[str] = []
    running = results(jobs.run(lambda: ran.append("save 1"), key="save"))
    replaced = results(jobs.run(lambda: ran.append("save 2"), key="save"))
    other = results(jobs.run(lambda: ran.append("append")))
    newest = results(jobs.run(lambda: ran.append("save 3"), key="save"))
    threads.runAll()
    assert ran == ["save 1", "append", "save 3"]
    assert running == replaced == other == newest == [None]


def test_a_failing_job_fails_its_deferreds_and_the_next_runs() -> None:
    threads = HandThreads()
    jobs = SerialJobs(threads)

    def broken() -> None:
        raise OSError(28, "No space left on device")

    failed = results(jobs.run(broken, key="save"))
    alsoFailed = results(jobs.run(broken, key="save"))
    waiting = results(jobs.run(lambda: "next"))
    threads.runAll()
    assert failed[0].check(OSError) and alsoFailed[0].check(OSError)
    assert waiting == ["next"]


def test_a_runner_that_raises_fails_the_job_and_the_next_runs() -> None:
    calls: list[Any] = []

    def refusing(f: Any, *args: Any) -> Deferred[Any]:
        calls.append(f)
        if len(calls) == 1:
            raise RuntimeError("no thread pool")
        return runInline(f, *args)

    jobs = SerialJobs(refusing)
    first = results(jobs.run(lambda: 1))
    second = results(jobs.run(lambda: 2))
    assert first[0].check(RuntimeError) and second == [2]


def test_idle_fires_once_every_job_given_before_has_run() -> None:
    threads = HandThreads()
    jobs = SerialJobs(threads)
    assert results(jobs.idle()) == [None]  # nothing runs
    jobs.run(lambda: None)
    idle = results(jobs.idle())
    jobs.run(lambda: None)
    threads.runNext()
    assert idle == []
    threads.runNext()
    assert idle == [None]


def test_a_job_given_by_a_waiter_runs_after_the_ones_waiting_already() -> None:
    threads = HandThreads()
    jobs = SerialJobs(threads)
    ran: list[str] = []
    first = jobs.run(lambda: ran.append("a"))
    jobs.run(lambda: ran.append("b"))
    first.addCallback(lambda _: jobs.run(lambda: ran.append("c")))
    threads.runAll()
    assert ran == ["a", "b", "c"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=30))
def test_jobs_never_overtake_each_other(steps: list[tuple[bool, bool]]) -> None:
    """Whatever the interleaving of new jobs (keyed or not) and finished
    ones: one job in the pool at most, the jobs run in the order given
    (each keyed one counted where it last was given), and each Deferred
    fires once."""
    threads = HandThreads()
    jobs = SerialJobs(threads)
    ran: list[int] = []
    fired: list[int] = []
    for n, (keyed, finish) in enumerate(steps):
        done = jobs.run(partial(ran.append, n), key="k" if keyed else None)
        done.addCallback(lambda _, n: fired.append(n), n)
        assert len(threads.jobs) <= 1
        if finish and threads.jobs:
            threads.runNext()
    threads.runAll()
    assert ran == sorted(ran)
    assert sorted(fired) == list(range(len(steps)))
    keyedSteps = [n for n, (keyed, _) in enumerate(steps) if keyed]
    if keyedSteps:
        assert keyedSteps[-1] in ran  # the newest save always runs


def test_run_inline_runs_at_once() -> None:
    assert results(runInline(lambda x: x + 1, 1)) == [2]
    failed = results(runInline(lambda: 1 // 0))
    assert failed[0].check(ZeroDivisionError)
