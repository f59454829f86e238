"""L{mcpgateway.ops.signals}: the first SIGTERM/SIGINT/SIGHUP stops the reactor, one
more while stopping cuts the drain short and logs one line, never a
C{ReactorNotRunning} traceback; nothing is installed before the reactor
runs, and a handler only schedules its work."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any, cast

from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IReactorFromThreads, _ISupportsExitSignalCapturing
from twisted.internet.testing import MemoryReactor
from twisted.logger import LogEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from mcpgateway.core.gateway.gateway import GatewayService
from mcpgateway.ops.signals import STOP_SIGNALS, StopSignals, ignoredStopSignals, signalName
from mcpgateway.protocol import jsonrpc
from tests.fakes import capturedGatewayLogs
from tests.http import Harness, spec


@implementer(_ISupportsExitSignalCapturing, IReactorFromThreads)
class FakeReactor:
    """Runs C{callWhenRunning} hooks on L{run}, queues C{callFromThread}
    calls until L{drain}, and stops like Twisted's: once."""

    def __init__(self) -> None:
        self.running = False
        self.hooks: list[Callable[[], Any]] = []
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.stops = 0
        self.stopped = False
        self._exitSignal: int | None = None
        self.onStop: Callable[[], None] = lambda: None

    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if self.running:
            callable(*args, **kw)
        else:
            self.hooks.append(lambda: callable(*args, **kw))

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        self.queued.append((callable, args))

    def stop(self) -> None:
        if self.stopped:
            raise ReactorNotRunning("Can't stop reactor that isn't running.")
        self.stopped = True
        self.stops += 1
        self.onStop()

    def run(self) -> None:
        self.running = True
        hooks, self.hooks = self.hooks, []
        for hook in hooks:
            hook()

    def drain(self) -> None:
        """Run what the signal handlers scheduled."""
        queued, self.queued = self.queued, []
        for callable, args in queued:
            callable(*args)


class FakeSignals:
    """C{signal.signal}: records what is installed, starting from C{initial}
    (Twisted's handlers for SIGTERM and SIGINT; none of its own for SIGHUP)."""

    def __init__(self, initial: dict[int, Any] | None = None) -> None:
        self.handlers: dict[int, Any] = {
            signal.SIGTERM: "twisted's",
            signal.SIGINT: "twisted's",
            signal.SIGHUP: signal.SIG_DFL,
        } | dict(initial or {})
        self.calls: list[tuple[int, Any]] = []

    def __call__(self, signum: int, handler: Any) -> Any:
        self.calls.append((signum, handler))
        previous = self.handlers.get(signum, signal.SIG_DFL)
        self.handlers[signum] = handler
        return previous

    def send(self, signum: int) -> None:
        """The signal arrives: its handler runs, inline, as Python runs them."""
        self.handlers[signum](signum, None)


def formats(events: list[LogEvent]) -> list[str]:
    return [
        e["log_format"]
        for e in events
        if e.get("log_namespace", "").startswith("mcpgateway.ops.signals")
    ]


class InstallTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.signals = FakeSignals()
        self.service = StopSignals(self.reactor, lambda announce: None, installSignal=self.signals)

    def test_installed_as_the_service_starts_and_again_once_the_reactor_runs(self) -> None:
        """twistd and twist start the services before the reactor runs, and the
        reactor installs Twisted's handlers as it starts: ours go in at both."""
        self.service.startService()
        self.assertEqual(sorted(s for s, _ in self.signals.calls), sorted(STOP_SIGNALS))
        self.signals.handlers.update({signal.SIGTERM: "twisted's", signal.SIGINT: "twisted's"})
        self.reactor.run()
        self.assertEqual(len(self.signals.calls), 2 * len(STOP_SIGNALS))
        self.assertEqual(sorted(self.service.installed), sorted(STOP_SIGNALS))
        for signum in STOP_SIGNALS:
            self.assertEqual(self.signals.handlers[signum], self.service._signalled)

    def test_a_signal_before_the_reactor_runs_stops_it_once_it_does(self) -> None:
        """Not the default action (the process killed on the spot, the
        client configs it adopted as it listened left adopted): a graceful
        stop, as soon as the reactor can do one."""
        self.service.startService()
        self.signals.handlers[signal.SIGTERM](signal.SIGTERM, None)
        self.assertEqual(self.reactor.stops, 0)
        self.reactor.run()
        self.reactor.drain()  # the reactor's first turn runs what the handler queued
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(self.reactor._exitSignal, signal.SIGTERM)

    def test_sighup_is_handled_like_sigterm(self) -> None:
        """Its default action would kill the gateway with no drain."""
        self.service.startService()
        self.reactor.run()
        self.assertIn(signal.SIGHUP, self.service.installed)
        self.assertEqual(self.signals.handlers[signal.SIGHUP], self.service._signalled)

    def installed(self, inherited: str = "") -> StopSignals:
        """A service started on C{self.signals} once the reactor runs."""
        service = StopSignals(
            self.reactor, lambda announce: None, installSignal=self.signals, inherited=inherited
        )
        service.startService()
        self.reactor.run()
        return service

    def test_sighup_under_nohup_stays_ignored(self) -> None:
        self.signals = FakeSignals({signal.SIGHUP: signal.SIG_IGN})
        service = self.installed()
        self.assertIs(self.signals.handlers[signal.SIGHUP], signal.SIG_IGN)
        self.assertEqual(sorted(service.installed), sorted([signal.SIGTERM, signal.SIGINT]))

    def test_a_signal_the_predecessor_ignored_is_ignored_again(self) -> None:
        """spawnProcess resets SIG_IGN in the successor of a restart: the
        predecessor's nohup is passed on by name and applied again."""
        service = self.installed(inherited="SIGHUP")
        self.assertIs(self.signals.handlers[signal.SIGHUP], signal.SIG_IGN)
        self.assertEqual(sorted(service.installed), sorted([signal.SIGTERM, signal.SIGINT]))

    def test_the_ignored_stop_signals_are_named_for_a_successor(self) -> None:
        ignored: dict[int, object] = {int(signal.SIGHUP): signal.SIG_IGN}
        self.assertEqual(ignoredStopSignals(lambda s: ignored.get(s, signal.SIG_DFL)), "SIGHUP")
        self.assertEqual(ignoredStopSignals(lambda s: signal.SIG_DFL), "")

    def test_an_ignored_signal_stays_ignored(self) -> None:
        self.signals = FakeSignals({signal.SIGINT: signal.SIG_IGN})
        service = self.installed()
        self.assertIs(self.signals.handlers[signal.SIGINT], signal.SIG_IGN)
        self.assertEqual(service.installed, [signal.SIGTERM, signal.SIGHUP])

    def test_a_reactor_that_takes_no_calls_from_a_handler_gets_none_before_it_runs(
        self,
    ) -> None:
        """An in-memory reactor (the tests of the whole service tree): the
        process's own handlers stay until such a reactor runs, if ever."""
        reactor = MemoryReactor()  # no callFromThread: as the tap tests give the tree
        service = StopSignals(cast(Any, reactor), lambda announce: None, installSignal=self.signals)
        service.startService()
        self.assertEqual(self.signals.calls, [])
        self.assertEqual(len(reactor.whenRunningHooks), 1)

    def test_a_service_stopped_before_the_reactor_ran_installs_nothing_more(self) -> None:
        self.service.startService()
        calls = list(self.signals.calls)
        self.service.stopService()
        self.reactor.run()
        self.assertEqual(self.signals.calls, calls)

    def test_handlers_stay_installed_while_stopping(self) -> None:
        self.service.startService()
        self.reactor.run()
        calls = list(self.signals.calls)
        self.service.stopService()
        self.assertEqual(self.signals.calls, calls)

    def test_signal_names(self) -> None:
        self.assertEqual(signalName(signal.SIGTERM), "SIGTERM")
        self.assertEqual(signalName(signal.SIGINT), "SIGINT")
        self.assertEqual(signalName(signal.SIGHUP), "SIGHUP")
        self.assertEqual(signalName(999), "signal 999")


class ReceivedTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.signals = FakeSignals()
        self.cuts: list[int | None] = [None]
        self.asked = 0
        self.service = StopSignals(self.reactor, self.cut, installSignal=self.signals)
        self.service.startService()
        self.reactor.run()

    def cut(self, announce: Callable[[int], object]) -> int | None:
        self.asked += 1
        count = self.cuts.pop(0) if self.cuts else None
        if count is not None:
            announce(count)
        return count

    def test_a_handler_only_schedules(self) -> None:
        self.signals.send(signal.SIGTERM)
        self.assertEqual(self.reactor.stops, 0)
        self.assertEqual(len(self.reactor.queued), 1)
        self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)

    def test_first_signal_stops_the_reactor_and_sets_its_exit_signal(self) -> None:
        with capturedGatewayLogs() as events:
            self.signals.send(signal.SIGINT)
            self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(self.reactor._exitSignal, signal.SIGINT)
        self.assertEqual(self.asked, 0)
        self.assertEqual(formats(events), ["Received {signal}, shutting down."])

    def test_sighup_stops_the_reactor_gracefully_and_is_the_exit_signal(self) -> None:
        with capturedGatewayLogs() as events:
            self.signals.send(signal.SIGHUP)
            self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(self.reactor._exitSignal, signal.SIGHUP)
        [event] = [
            e for e in events if e.get("log_namespace", "").startswith("mcpgateway.ops.signals")
        ]
        self.assertEqual(
            (event["log_format"], event["signal"]), ("Received {signal}, shutting down.", "SIGHUP")
        )

    def test_a_second_sighup_cuts_the_drain_short(self) -> None:
        self.cuts = [1]
        self.signals.send(signal.SIGHUP)
        self.reactor.drain()
        self.signals.send(signal.SIGHUP)
        self.reactor.drain()
        self.assertEqual((self.reactor.stops, self.asked), (1, 1))

    def test_second_signal_cuts_the_drain_short_without_stopping_again(self) -> None:
        self.cuts = [1]
        self.signals.send(signal.SIGTERM)
        self.reactor.drain()
        with capturedGatewayLogs() as events:
            self.signals.send(signal.SIGTERM)
            self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(self.asked, 1)
        [event] = [
            e for e in events if e.get("log_namespace", "").startswith("mcpgateway.ops.signals")
        ]
        self.assertIn("already stopping", event["log_format"])
        self.assertEqual((event["signal"], event["count"]), ("SIGTERM", 1))

    def test_two_signals_before_the_reactor_turns(self) -> None:
        """Both queued before either ran: still one stop, then a cut."""
        self.signals.send(signal.SIGTERM)
        self.signals.send(signal.SIGINT)
        self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(self.asked, 1)

    def test_more_signals_while_the_children_stop_log_one_line_each(self) -> None:
        self.signals.send(signal.SIGTERM)
        self.reactor.drain()
        with capturedGatewayLogs() as events:
            for _ in range(3):
                self.signals.send(signal.SIGINT)
                self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(
            formats(events),
            ["Received {signal}: already stopping, waiting for the children to exit"] * 3,
        )

    def test_a_stop_begun_otherwise_is_cut_short_by_the_first_signal(self) -> None:
        """The service tree stops (the management API, a handover): a signal
        then does not stop the reactor again."""
        self.cuts = [2]
        self.reactor.stop()
        self.service.stopService()
        self.signals.send(signal.SIGTERM)
        self.reactor.drain()
        self.assertEqual(self.reactor.stops, 1)
        self.assertEqual(self.asked, 1)
        self.assertIsNone(self.reactor._exitSignal)

    def test_a_reactor_stopped_meanwhile_raises_nothing(self) -> None:
        """Stopped by something else just before the shutdown began."""
        self.reactor.stop()
        with capturedGatewayLogs() as events:
            self.signals.send(signal.SIGTERM)
            self.reactor.drain()  # ReactorNotRunning would raise out of here
        self.assertEqual(self.asked, 1)
        self.assertEqual(
            formats(events)[-1],
            "Received {signal}: already stopping, waiting for the children to exit",
        )


class WithGatewayTests(SynchronousTestCase):
    """Two SIGTERMs with a call in flight: the gateway stops at once, the
    call gets an error, the child is stopped the normal way."""

    def setUp(self) -> None:
        self.h = Harness({"srv": spec("srv")})
        self.h.gateway.drainTimeout = 5.0
        self.sid = self.h.initialize()
        self.gatewayService = GatewayService(self.h.gateway)
        self.reactor = FakeReactor()
        self.stopped: list[Any] = []
        self.reactor.onStop = lambda: self.stopped.append(self.gatewayService.stopService())
        self.signals = FakeSignals()
        self.service = StopSignals(
            self.reactor, self.h.gateway.shutdown.cutShort, installSignal=self.signals
        )
        self.service.startService()
        self.reactor.run()

    def call(self) -> Any:
        return self.h.request(
            "POST",
            "/srv/mcp",
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "slow"}},
            session=self.sid,
        )

    def test_second_sigterm_cuts_the_drain_short(self) -> None:
        response = self.call()
        self.signals.send(signal.SIGTERM)
        self.reactor.drain()
        self.service.stopService()  # the service tree stops with the reactor
        [stopped] = self.stopped
        self.h.reactor.advance(1.0)
        self.assertEqual(response.events(), [])  # draining
        self.assertFalse(self.h.process().stdinClosed)
        with capturedGatewayLogs() as events:
            self.signals.send(signal.SIGTERM)
            self.reactor.drain()
        [event] = response.events()
        self.assertEqual(event["error"]["code"], jsonrpc.SERVER_UNAVAILABLE)
        self.assertTrue(self.h.process().stdinClosed)  # stopped now, not 4 s later
        self.assertEqual(
            [e["count"] for e in events if "already stopping" in e.get("log_format", "")], [1]
        )
        self.h.reactor.advance(2.0)  # SIGTERM, then SIGKILL 3 s later
        self.h.reactor.advance(3.0)
        self.assertEqual(self.h.process().signals, ["TERM", "KILL"])
        self.successResultOf(stopped)
        self.assertEqual(self.reactor.stops, 1)

    def test_a_third_signal_changes_nothing(self) -> None:
        self.call()
        for _ in range(3):
            self.signals.send(signal.SIGTERM)
            self.reactor.drain()
        self.service.stopService()
        [stopped] = self.stopped
        self.assertTrue(self.h.process().stdinClosed)
        self.h.reactor.advance(2.0)
        self.h.reactor.advance(3.0)
        self.successResultOf(stopped)
        self.assertIsNone(self.h.gateway.shutdown.cutShort(None))

    def test_two_signals_in_one_turn_cut_the_drain_short(self) -> None:
        """Twisted fires the shutdown after the turn's queued calls: a quick
        double Ctrl-C reaches the gateway before its stop began."""
        self.reactor.onStop = lambda: None  # the shutdown comes after the turn
        response = self.call()
        with capturedGatewayLogs() as events:
            self.signals.send(signal.SIGINT)
            self.signals.send(signal.SIGINT)
            self.reactor.drain()
        self.assertFalse(self.h.process().stdinClosed)  # nothing stops inside the turn
        stopped = self.gatewayService.stopService()  # the shutdown
        [event] = response.events()
        self.assertEqual(event["error"]["code"], jsonrpc.SERVER_UNAVAILABLE)
        self.assertTrue(self.h.process().stdinClosed)  # at once, not after the drain timeout
        self.assertEqual(
            [e["count"] for e in events if "already stopping" in e.get("log_format", "")], [1]
        )
        self.h.reactor.advance(5.0)
        self.successResultOf(stopped)
