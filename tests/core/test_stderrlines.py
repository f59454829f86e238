"""The stderr lines an exit reason quotes: the first that looks like an
error, then the last ones. A mistyped C{npx} package's C{npm error 404} is
shown, not only npm's closing advice and the path of its log file."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.child import ChildProtocol
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.stderrlines import (
    LAST_LINES,
    SKIPPED,
    STDERR_MARK,
    looksLikeError,
    stderrNote,
    telling,
)
from mcpgateway.core.upstream import ServerUnavailable, Upstream
from tests.fakes import FakeProcess, FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.http import spec

NPM_404 = (
    "npm error code E404\n"
    "npm error 404 Not Found - GET"
    " https://registry.npmjs.org/@modelcontextprotocol%2fserver-doesnotexist\n"
    "npm error 404\n"
    "npm error 404  The requested resource '@modelcontextprotocol/server-doesnotexist@*' could"
    " not be found or you do not have permission to access it.\n"
    "npm error 404\n"
    "npm error 404 Note that you can also install from a\n"
    "npm error 404 tarball, folder, http url, or git url.\n"
    "npm error A complete log of this run can be found in:"
    " /root/.npm/_logs/2026-11-27T10_52_21_605Z-debug-0.log\n"
)
"""What C{npx -y @modelcontextprotocol/server-doesnotexist} writes to stderr (npm 10)."""
NOT_FOUND = (
    "npm error 404 Not Found - GET"
    " https://registry.npmjs.org/@modelcontextprotocol%2fserver-doesnotexist"
)

NODE_MISSING = """\
node:internal/modules/cjs/loader:1228
  throw err;
  ^

Error: Cannot find module '/srv/dist/index.js'
    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)
    at Module._load (node:internal/modules/cjs/loader:1051:27)
    at node:internal/main/run_main_module:28:49 {
  code: 'MODULE_NOT_FOUND',
  requireStack: []
}

Node.js v20.11.0
"""


class TellingTests(SynchronousTestCase):
    def test_npms_404_comes_first_before_its_closing_lines(self) -> None:
        lines = NPM_404.splitlines()
        self.assertEqual(telling(lines), [NOT_FOUND, SKIPPED, *lines[-3:]])

    def test_an_older_npms_err_lines_alike(self) -> None:
        lines = [line.replace("npm error", "npm ERR!") for line in NPM_404.splitlines()]
        self.assertEqual(telling(lines)[0], NOT_FOUND.replace("npm error", "npm ERR!"))

    def test_nodes_missing_module(self) -> None:
        lines = [line for line in NODE_MISSING.splitlines() if line]
        self.assertEqual(telling(lines)[0], "Error: Cannot find module '/srv/dist/index.js'")

    def test_uvs_unsolvable_requirements(self) -> None:
        lines = [
            "  \u00d7 No solution found when resolving tool dependencies:",
            "  ╰─▶ Because mcp-server-doesnotexist was not found in the package registry and you",
            "      require mcp-server-doesnotexist, we can conclude that your requirements are",
            "      unsatisfiable.",
        ]
        self.assertEqual(telling(lines), [lines[0], *lines[-3:]])  # adjacent: no "…"

    def test_a_python_traceback_is_told_by_its_last_line(self) -> None:
        lines = [
            "Traceback (most recent call last):",
            '  File "/srv/server.py", line 3, in <module>',
            "    import srv_impl",
            "ModuleNotFoundError: No module named 'srv_impl'",
        ]
        self.assertEqual(telling(lines), lines[-3:])

    def test_an_error_among_the_last_lines_is_not_repeated(self) -> None:
        lines = ["starting", "listening", "error: port in use", "bye"]
        self.assertEqual(telling(lines), lines[-3:])

    def test_no_error_word_keeps_the_last_lines(self) -> None:
        lines = [f"line {n}" for n in range(10)]
        self.assertEqual(telling(lines), lines[-3:])
        self.assertEqual(telling([]), [])

    def test_what_looks_like_an_error(self) -> None:
        for line in [
            "Error: boom",
            "error: Failed to spawn: `srv`",
            "2026-01-01 12:00:00 [ERROR] cannot connect",
            "fatal: not a git repository",
            "error[E0425]: cannot find value",
            "panic: runtime error: index out of range",
            "TypeError: x is not a function",
            "sh: 1: srv: command not found",
            "npm ERR! 404 Not Found",
        ]:
            self.assertTrue(looksLikeError(line), line)
        for line in [
            "npm error code E404",
            "npm ERR! errno ENOTFOUND",
            "npm error syscall getaddrinfo",
            "Traceback (most recent call last):",
            "0 errors, 2 warnings",
            "Error handling is enabled",
            "listening on stdio",
        ]:
            self.assertFalse(looksLikeError(line), line)

    def test_the_note_follows_the_gateways_words(self) -> None:
        self.assertEqual(stderrNote([]), "")
        self.assertEqual(stderrNote(["a", "b"]), f"{STDERR_MARK}a | b")


@given(st.lists(st.text(max_size=50), max_size=300), st.integers(0, 10))
def test_any_lines_give_a_bounded_choice_of_themselves(lines: list[str], last: int) -> None:
    told = telling(lines, last)
    assert len(told) <= last + 2
    assert all(line in lines or line == SKIPPED for line in told)
    assert told[len(told) - min(last, len(lines)) :] == lines[len(lines) - min(last, len(lines)) :]


@given(st.lists(st.binary(max_size=6000), max_size=30))
def test_any_stderr_bytes_give_a_bounded_note(chunks: list[bytes]) -> None:
    proto = ChildProtocol("srv", lambda message: None, Clock(), killGroup=None)
    proc = FakeProcess(proto, pid=5).connect()
    with capturedGatewayLogs():
        for chunk in chunks:
            proc.stderr(chunk)
        proc.exit(1)
    note = stderrNote(proto.stderrTail)
    # Each line is cut at 4,096 characters; at most LAST_LINES + 1 of them, and "…".
    assert len(note) <= len(STDERR_MARK) + (LAST_LINES + 2) * (4096 + 3)


class UpstreamTests(SynchronousTestCase):
    def test_a_mistyped_npx_packages_exit_names_the_404(self) -> None:
        reactor = FakeProcessReactor()
        up = Upstream(spec("srv", timeout=60.0), fakeSpawner(reactor), SharedFanout())
        started = up.ensure()
        proc = reactor.lastProcess
        with capturedGatewayLogs():
            proc.stderr(NPM_404.encode())
            proc.exit(1)
        failure = self.failureResultOf(started, ServerUnavailable)
        lines = NPM_404.splitlines()
        told = " | ".join([NOT_FOUND, SKIPPED, *lines[-3:]])
        self.assertEqual(up.lastExit, f"exited with code 1{STDERR_MARK}{told}")
        self.assertIn(NOT_FOUND, str(failure.value))
        self.assertIn(NOT_FOUND, up.breaker.lastFailure or "")
