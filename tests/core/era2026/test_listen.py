"""Listen streams on a handshake child: what they are honoured for, the resource
subscriptions they share with 2025 sessions, a child restart, and that they
never carry logs."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.era2026.listen import Listener, honour
from mcpgateway.core.era2026.types import Era2026Request, ListenFilter
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.pools.shared import SharedPlacement
from mcpgateway.core.spec import ServerSpec
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcess, FakeProcessReactor, FakeSession, RecordingSink, fakeSpawner

Message = dict[str, Any]

EXE = "/opt/srv/bin/srv"
SPEC = ServerSpec(name="srv", command="srv", executable=EXE, requestTimeout=10.0)
CAPS = {"tools": {"listChanged": True}, "prompts": {}, "resources": {"subscribe": True}}
INIT_RESULT = {"protocolVersion": "2025-11-25", "capabilities": CAPS, "serverInfo": {"name": "c"}}
WANTED = ListenFilter(tools=True, prompts=True, resources=True, uris=("file:///a",))
TOOLS_CHANGED = jsonrpc.notification("notifications/tools/list_changed")
PROMPTS_CHANGED = jsonrpc.notification("notifications/prompts/list_changed")
RESOURCES_CHANGED = jsonrpc.notification("notifications/resources/list_changed")


def updated(uri: str) -> Message:
    return jsonrpc.notification("notifications/resources/updated", {"uri": uri})


def listenRequest() -> Era2026Request:
    return Era2026Request(clientId="listen-1", method="subscriptions/listen", params={})


class HonourTests(SynchronousTestCase):
    def test_only_what_the_child_declares_is_honoured(self) -> None:
        self.assertEqual(
            honour(WANTED, CAPS),
            ListenFilter(tools=True, prompts=False, resources=False, uris=("file:///a",)),
        )
        self.assertEqual(
            honour(WANTED, {"resources": {"listChanged": True}, "prompts": {"listChanged": True}}),
            ListenFilter(tools=False, prompts=True, resources=True, uris=()),
        )
        self.assertEqual(honour(WANTED, {}), ListenFilter())
        self.assertEqual(
            honour(ListenFilter(uris=("u", "u", "v")), CAPS), ListenFilter(uris=("u", "v"))
        )

    def test_nothing_unasked_is_honoured(self) -> None:
        everything = {name: {"listChanged": True, "subscribe": True} for name in CAPS}
        self.assertEqual(honour(ListenFilter(), everything), ListenFilter())


class ListenerCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.pool = ServerPool(SPEC, fakeSpawner(self.reactor), SharedPlacement)

    def initialize(self, proc: FakeProcess) -> list[Message]:
        """Answer the gateway's initialize; what the child got after it."""
        [init] = proc.takeMessages()
        self.assertEqual(init["method"], "initialize")
        proc.reply(jsonrpc.resultResponse(init["id"], INIT_RESULT))
        return proc.takeMessages()

    def listen(
        self, wanted: ListenFilter = WANTED
    ) -> tuple[Listener, RecordingSink, list[Message]]:
        """A listen stream; what the child got for it."""
        sink = RecordingSink()
        d = self.pool.era2026.listen(listenRequest(), wanted, sink)
        proc = self.reactor.lastProcess
        sent = self.initialize(proc) if not d.called else proc.takeMessages()
        listener = self.successResultOf(d)
        assert isinstance(listener, Listener)
        return listener, sink, sent

    def answerAll(self, proc: FakeProcess, sent: list[Message]) -> None:
        for message in sent:
            if "id" in message:
                proc.reply(jsonrpc.resultResponse(message["id"], {}))


class FilterTests(ListenerCase):
    def test_the_stream_carries_what_it_was_honoured_for(self) -> None:
        listener, sink, sent = self.listen()
        proc = self.reactor.lastProcess
        self.assertEqual(listener.honoured, honour(WANTED, CAPS))
        self.assertEqual(sent[0], jsonrpc.notification("notifications/initialized"))
        [subscribe] = sent[1:]
        self.assertEqual(subscribe["method"], "resources/subscribe")
        self.assertEqual(subscribe["params"], {"uri": "file:///a"})
        self.answerAll(proc, sent)
        for message in (
            TOOLS_CHANGED,
            PROMPTS_CHANGED,
            RESOURCES_CHANGED,
            updated("file:///a"),
            updated("file:///b"),
        ):
            proc.reply(message)
        self.assertEqual(sink.messages, [TOOLS_CHANGED, updated("file:///a")])
        self.assertEqual(self.pool.era2026Stats().listenStreams, 1)

    def test_a_listener_never_gets_logs_or_requests(self) -> None:
        _listener, sink, sent = self.listen()
        proc = self.reactor.lastProcess
        self.answerAll(proc, sent)
        session = FakeSession("handshake", capabilities={"roots": {}}, logLevel="debug")
        self.pool.open(session, jsonrpc.request(0, "initialize", {}))  # type: ignore[arg-type]
        log = jsonrpc.notification("notifications/message", {"level": "error", "data": "x"})
        proc.reply(log)
        self.assertEqual(sink.messages, [])
        self.assertEqual(session.delivered, [log])
        # The handshake session is the only client the child serves: the idle
        # listen stream is never asked, and does not make the request ambiguous.
        proc.reply(jsonrpc.request("c-1", "roots/list"))
        self.assertEqual(sink.messages, [])
        self.assertEqual(session.delivered[-1]["method"], "roots/list")
        self.assertEqual(proc.takeMessages(), [])

    def test_logs_while_only_its_subscribe_is_in_flight_do_not_reach_it(self) -> None:
        _listener, sink, sent = self.listen()
        proc = self.reactor.lastProcess
        proc.reply(jsonrpc.notification("notifications/message", {"level": "error", "data": "x"}))
        self.assertEqual(sink.messages, [])
        self.answerAll(proc, sent)


class SubscriptionTests(ListenerCase):
    def test_subscriptions_are_counted_with_the_handshake_sessions(self) -> None:
        """One subscribe reaches the child however many ask; one unsubscribe
        when the last one leaves."""
        listener, _, sent = self.listen()
        proc = self.reactor.lastProcess
        self.answerAll(proc, sent)
        session = FakeSession("handshake")
        self.pool.open(session, jsonrpc.request(0, "initialize", {}))  # type: ignore[arg-type]
        d = self.pool.forward(
            session,  # type: ignore[arg-type]
            jsonrpc.request(1, "resources/subscribe", {"uri": "file:///a"}),
            None,
        )
        self.assertEqual(self.successResultOf(d), jsonrpc.resultResponse(1, {}))
        self.assertEqual(proc.takeMessages(), [])
        listener.close()
        self.assertEqual(proc.takeMessages(), [])
        self.assertEqual(self.pool.era2026Stats().listenStreams, 0)
        d = self.pool.forward(
            session,  # type: ignore[arg-type]
            jsonrpc.request(2, "resources/unsubscribe", {"uri": "file:///a"}),
            None,
        )
        [unsubscribe] = proc.takeMessages()
        self.assertEqual(unsubscribe["method"], "resources/unsubscribe")
        self.assertEqual(unsubscribe["params"], {"uri": "file:///a"})

    def test_the_last_listener_to_leave_unsubscribes(self) -> None:
        first, _, sent = self.listen()
        proc = self.reactor.lastProcess
        self.answerAll(proc, sent)
        second, _, sent2 = self.listen()
        self.assertEqual(sent2, [])
        first.close()
        self.assertEqual(proc.takeMessages(), [])
        second.close()
        [unsubscribe] = proc.takeMessages()
        self.assertEqual(unsubscribe["method"], "resources/unsubscribe")
        second.close()  # twice: nothing more
        self.assertEqual(proc.takeMessages(), [])

    def test_a_stream_closed_before_the_child_answered_gives_its_uri_back(self) -> None:
        listener, _, _sent = self.listen()
        proc = self.reactor.lastProcess
        listener.close()
        cancelled, unsubscribe = proc.takeMessages()
        self.assertEqual(cancelled["method"], "notifications/cancelled")
        self.assertEqual(unsubscribe["method"], "resources/unsubscribe")


class RestartTests(ListenerCase):
    def test_a_restart_resubscribes_and_announces_list_changes(self) -> None:
        _listener, sink, sent = self.listen()
        proc = self.reactor.lastProcess
        self.answerAll(proc, sent)
        proc.exit(1)
        # The listener keeps the shared child wanted: it comes back by itself.
        for _ in range(600):
            if self.reactor.lastProcess is not proc:
                break
            self.reactor.advance(0.1)
        fresh = self.reactor.lastProcess
        self.assertIsNot(fresh, proc)
        after = self.initialize(fresh)
        self.assertEqual(after[0], jsonrpc.notification("notifications/initialized"))
        self.assertEqual(
            [(m["method"], m.get("params")) for m in after[1:]],
            [("resources/subscribe", {"uri": "file:///a"})],
        )
        self.assertEqual(sink.messages, [TOOLS_CHANGED])


class EndTests(ListenerCase):
    def test_stopping_the_server_ends_the_streams(self) -> None:
        listener, _sink, sent = self.listen()
        proc = self.reactor.lastProcess
        self.answerAll(proc, sent)
        ended: list[str] = []
        listener.ended.addCallback(ended.append)
        self.pool.stopAll()
        self.assertEqual(ended, ["server 'srv' stopped"])
        self.assertEqual(self.pool.era2026Stats().listenStreams, 0)
        self.assertFalse(listener.deliver(TOOLS_CHANGED))
        listener.close()  # the web closes it too: nothing happens

    def test_a_refused_server_opens_no_stream(self) -> None:
        self.pool.disabled = True
        failure = self.failureResultOf(
            self.pool.era2026.listen(listenRequest(), WANTED, RecordingSink())
        )
        self.assertIn("disabled", failure.getErrorMessage())
        self.assertEqual(self.reactor.processes, [])
