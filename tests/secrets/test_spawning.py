"""A child whose entry names secrets: started with their values once they are
read, not started (and saying which reference, never a value) when one
cannot be; what it prints to stderr is redacted before it is kept or logged."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.config.servers import parseEntry
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from mcpgateway.secrets.resolve import SecretResolver
from mcpgateway.secrets.store import SecretStore
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.secrets.support import FakeOnePassword, inline

SECRET = "ghp_neverLogged0123456789abc"
OP_VALUE = "op-value-never-logged"
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "serverInfo": {"name": "child", "version": "1"},
}


class SecretChildTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        stateDir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, stateDir, True)
        store = SecretStore(stateDir, keyring=None)
        store.put("gh", SECRET)
        self.onePassword = FakeOnePassword({"op://V/I/F": OP_VALUE})
        self.resolver = SecretResolver(
            self.reactor, stateDir, {}, inline, store=store, onePassword=self.onePassword
        )
        self.spec = parseEntry(
            "srv",
            {
                "command": "server",
                "args": ["--key", "${op://V/I/F}"],
                "env": {"GITHUB_TOKEN": "${keyring:gh}"},
            },
            {"PATH": "/bin"},
        )
        self.spec = replace(self.spec, executable="/bin/server")
        self.upstream = Upstream(
            self.spec, fakeSpawner(self.reactor, secrets=self.resolver), SharedFanout()
        )

    def answerInitialize(self) -> None:
        proc = self.reactor.lastProcess
        [init] = [m for m in proc.sentMessages() if m.get("method") == "initialize"]
        proc.reply({"jsonrpc": "2.0", "id": init["id"], "result": INIT_RESULT})

    def test_the_child_gets_the_values_and_the_upstream_keeps_the_references(self) -> None:
        d = self.upstream.ensure()
        _, argv, env, _ = self.reactor.spawned[0]
        assert env is not None
        self.assertEqual(argv, ["/bin/server", "--key", OP_VALUE])
        self.assertEqual(env["GITHUB_TOKEN"], SECRET)
        self.answerInitialize()
        self.successResultOf(d)
        self.assertIs(self.upstream.spec, self.spec)
        self.assertEqual(dict(self.upstream.spec.env)["GITHUB_TOKEN"], "${keyring:gh}")

    def test_a_child_waits_for_its_secrets_and_a_stop_meanwhile_starts_none(self) -> None:
        self.onePassword.hold = True
        d = self.upstream.ensure()
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(self.upstream.state, Lifecycle.STARTING)
        waiting = self.upstream.ensure()  # a second request waits for the same start
        self.successResultOf(self.upstream.stop())
        self.failureResultOf(d, ServerUnavailable)
        self.failureResultOf(waiting, ServerUnavailable)
        self.onePassword.pending["op://V/I/F"].callback(OP_VALUE)
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(self.upstream.state, Lifecycle.STOPPED)

    def test_an_unresolvable_reference_starts_nothing_and_says_which(self) -> None:
        self.onePassword.items.clear()
        with capturedGatewayLogs() as events:
            d = self.upstream.ensure()
        failure = self.failureResultOf(d, ServerUnavailable)
        message = str(failure.value)
        self.assertIn("server 'srv' cannot start: ${op://V/I/F}: 'op read' failed", message)
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(self.upstream.state, Lifecycle.STOPPED)
        self.assertIn("${op://V/I/F}", self.upstream.lastExit or "")
        self.assertEqual(self.upstream.breaker.totalFailures, 1)
        self.assertEqual(
            [e["text"] for e in self.upstream.events.recent() if e["kind"] == "exited"],
            [self.upstream.lastExit],
        )
        self.assertTrue(any("${op://V/I/F}" in str(e.get("why")) for e in events))
        # The backoff holds the next start back; then it is tried again.
        again = self.upstream.ensure()
        self.assertEqual(self.upstream.state, Lifecycle.RESTARTING)
        self.onePassword.items["op://V/I/F"] = OP_VALUE
        self.reactor.advance(self.upstream.breaker.delay())
        self.answerInitialize()
        self.successResultOf(again)

    def test_a_resolver_bug_is_reported_by_its_type_only(self) -> None:
        from twisted.internet.defer import fail

        class Broken:
            def resolve(self, spec: Any) -> Any:
                return fail(KeyError(SECRET))

        upstream = Upstream(self.spec, fakeSpawner(self.reactor, secrets=Broken()), SharedFanout())
        with capturedGatewayLogs() as events:
            failure = self.failureResultOf(upstream.ensure(), ServerUnavailable)
        self.assertIn("resolving its secret references failed (KeyError)", str(failure.value))
        self.assertNotIn(SECRET, repr(events) + str(failure.value) + str(upstream.lastExit))

    def test_a_start_that_breaks_after_the_secrets_releases_its_waiters(self) -> None:
        """A bug while the child starts (after its secrets came) is logged,
        and the request waiting for the child gets an error: never a start
        left hanging."""

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        self.upstream._spawn = broken  # type: ignore[method-assign]
        with capturedGatewayLogs() as events:
            d = self.upstream.ensure()
        self.failureResultOf(d, ServerUnavailable)
        self.assertEqual(self.upstream.state, Lifecycle.STOPPED)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertTrue(any("starting a child failed" in str(e.get("log_format")) for e in events))

    def test_what_the_child_prints_is_redacted_before_it_is_kept_or_logged(self) -> None:
        with capturedGatewayLogs() as events:
            d = self.upstream.ensure()
            proc = self.reactor.lastProcess
            proc.stderr(f"token={SECRET} key={OP_VALUE[:5]}".encode())
            proc.stderr(f"{OP_VALUE[5:]}\n".encode())  # a value split across reads
            proc.exit(1)
        self.assertIn("key=${op://V/I/F}", str(self.failureResultOf(d, ServerUnavailable).value))
        expected = "token=${keyring:gh} key=${op://V/I/F}"
        stderr = [e["text"] for e in self.upstream.events.recent() if e["kind"] == "stderr"]
        self.assertEqual(stderr, [expected])
        self.assertIn(expected, self.upstream.lastExit or "")
        text = repr(events)
        self.assertNotIn(SECRET, text)
        self.assertNotIn(OP_VALUE, text)
        self.assertIn(expected, text)

    def test_a_spec_without_references_never_asks_the_resolver(self) -> None:
        class Refusing:
            def resolve(self, spec: Any) -> Any:
                raise AssertionError("asked")

        plain = parseEntry("plain", {"command": "server", "env": {"A": "b"}}, {"PATH": "/bin"})
        plain = replace(plain, executable="/bin/server")
        upstream = Upstream(plain, fakeSpawner(self.reactor, secrets=Refusing()), SharedFanout())
        upstream.ensure()
        self.assertEqual(len(self.reactor.spawned), 1)
