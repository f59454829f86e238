"""A bounded fuzz run against the real Site (fake children, fake clock, no sockets).

A seeded generator makes a few thousand hostile requests from every family the
hardening campaign found: wrong-typed params for the methods the
gateway handles itself, ids of every type, deep nesting, huge numbers,
NaN/Infinity/1e999, lone surrogates, bytes that are not UTF-8, broken JSON,
batches of every shape and size, malformed responses, bad headers, bad paths,
bad methods, hostile management-API bodies, broken request heads. Whatever
comes in:

  - no answer is a 500, and nothing is logged with a traceback;
  - everything the gateway writes, to clients and to the child, is strict JSON
    (UTF-8, no NaN/Infinity);
  - nothing is left behind: the shared keep-alive ticker holds only the
    streams still open, and every session's in-flight count goes back to 0.

The memory side (RSS after 20,000 bad requests) is
C{tests/integration/serving/test_hostile_input.py}.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.protocol.envelope import LOG_LEVELS
from mcpgateway.web.plumbing.sse import keepAliveFor
from tests.fakes import capturedGatewayLogs
from tests.http import ACCEPT_BOTH, Response
from tests.support.web.api import ApiHarness

SEED = 20_2001
ROUNDS = 3000

GATEWAY_METHODS = (
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "ping",
    "initialize",
    "notifications/cancelled",
    "notifications/initialized",
    "tools/list",
    "tools/call",
)


_PLAIN = ("null", "true", "false", "0", "-1", "1.5", '""', '"x"', "{}", "[]")
_NUMBERS = tuple(
    ["9" * n for n in (20, 300, 999, 1000, 1001, 5000)]
    + ["-" + "1" * n for n in (10, 1001, 4400)]
    + ["0." + "5" * 2000]
)
_NON_FINITE = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1E+400",
    "1e308",
    "1.8e308",
    "2e-999",
    "1e0000309",
)
_STRINGS = (
    '"\\ud800"',
    '"\\udc00"',
    '"\\ud83d\\ude00"',
    '"a\\ud83d"',
    '"\\\\ud800"',
    '"\\u0000"',
    '"\\u00e9"',
    '"\u00e9\U0001f600"',
)


class Fuzzer:
    """Makes hostile requests from a seeded C{random.Random}."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # -- values ----------------------------------------------------------------------

    def scalar(self) -> str:
        r = self.rng
        roll = r.random()
        if roll < 0.5:
            return r.choice(_PLAIN)
        if roll < 0.6:
            return str(r.randint(-(2**63), 2**63))
        if roll < 0.75:
            return r.choice(_NUMBERS)
        if roll < 0.88:
            return r.choice(_NON_FINITE)
        return r.choice(_STRINGS)

    def value(self, depth: int = 0) -> str:
        r = self.rng
        roll = r.random()
        if depth > 3 or roll < 0.5:
            return self.scalar()
        if roll < 0.75:
            return "[" + ",".join(self.value(depth + 1) for _ in range(r.randint(0, 3))) + "]"
        keys = [
            "level",
            "uri",
            "requestId",
            "reason",
            "protocolVersion",
            "capabilities",
            "clientInfo",
            "_meta",
            "progressToken",
            "name",
            "arguments",
            "\\ud800",
            "x",
        ]
        return (
            "{"
            + ",".join(
                f'"{r.choice(keys)}":{self.value(depth + 1)}' for _ in range(r.randint(0, 3))
            )
            + "}"
        )

    def nested(self) -> str:
        r = self.rng
        depth = r.choice([99, 100, 101, 150, 1000, 20_000])
        opener, closer = r.choice([("[", "]"), ('{"a":', "}")])
        inner = "1" if opener != "[" else ""
        return opener * depth + inner + closer * depth * r.choice([1, 1, 0])

    def params(self) -> str:
        r = self.rng
        choice = r.random()
        if choice < 0.3:
            return self.scalar()
        if choice < 0.4:
            return self.nested()
        level = r.choice([*LOG_LEVELS, "verbose", ""])
        known = [
            f'"level":"{level}"',
            f'"level":{self.value()}',
            f'"uri":{self.value()}',
            '"uri":"file:///x"',
            f'"requestId":{self.value()}',
            '"requestId":2',
            f'"reason":{self.value()}',
            '"protocolVersion":"2025-11-25"',
            f'"protocolVersion":{self.value()}',
            f'"capabilities":{self.value()}',
            f'"_meta":{self.value()}',
            '"_meta":{"progressToken":' + self.value() + "}",
            '"name":"echo"',
            f'"arguments":{self.value()}',
        ]
        return "{" + ",".join(r.sample(known, r.randint(0, 4))) + "}"

    def message(self) -> str:
        r = self.rng
        parts = ['"jsonrpc":"2.0"'] if r.random() < 0.95 else [f'"jsonrpc":{self.scalar()}']
        kind = r.random()
        if kind < 0.75:
            parts.append(
                f'"method":"{r.choice(GATEWAY_METHODS)}"'
                if r.random() < 0.95
                else f'"method":{self.scalar()}'
            )
            if r.random() < 0.7:
                parts.append(f'"id":{self.scalar() if r.random() < 0.4 else r.randint(0, 9)}')
            if r.random() < 0.9:
                parts.append(f'"params":{self.params()}')
        else:  # a response
            parts.append(f'"id":{self.scalar() if r.random() < 0.5 else r.randint(0, 9)}')
            if r.random() < 0.6:
                parts.append(f'"result":{self.value()}')
            if r.random() < 0.6:
                parts.append(f'"error":{self.value()}')
        r.shuffle(parts)
        return "{" + ",".join(parts) + "}"

    # -- bodies ------------------------------------------------------------------------

    def body(self) -> bytes:
        r = self.rng
        family = r.random()
        if family < 0.55:
            text = self.message()
        elif family < 0.75:
            size = r.choice([0, 1, 2, 5, 99, 100, 101, 150])
            messages = [self.message() for _ in range(min(size, 5))]
            messages += [f'{{"jsonrpc":"2.0","id":{n},"method":"ping"}}' for n in range(size - 5)]
            r.shuffle(messages)
            text = "[" + ",".join(messages) + "]"
        elif family < 0.85:
            text = self.nested()
        else:
            text = self.message()
            cut = r.randint(0, len(text))
            text = r.choice(
                [text[:cut], text[:cut] + r.choice(["[", "\\", '"', "\x00"]) + text[cut:]]
            )
        data = text.encode("utf-8", "surrogatepass")
        if r.random() < 0.05:  # bytes that are not UTF-8
            at = r.randint(0, len(data))
            data = (
                data[:at] + r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88"]) + data[at:]
            )
        return data

    def head(self) -> bytes:
        """A raw request head, often broken."""
        r = self.rng
        line = r.choice(
            [
                b"POST /srv/mcp HTTP/1.1",
                b"GET / HTTP/1.1",
                b"POST /srv/mcp",
                b"\xff\xfe / HTTP/1.1",
                b"POST /srv/mcp HTTP/9.9",
                b"",
                b" ",
                b"POST /" + b"a" * 20_000 + b" HTTP/1.1",
            ]
        )
        headers = [b"Host: 127.0.0.1"]
        for _ in range(r.randint(0, 4)):
            headers.append(
                r.choice(
                    [
                        b"Content-Length: " + b"9" * r.choice([1, 20, 5000]),
                        b"Content-Length: -1",
                        b"Content-Length: 1, 2",
                        b"Transfer-Encoding: chunked",
                        b"Transfer-Encoding: gzip",
                        b"no colon here",
                        b"X: \xff\xfe",
                        b" folded",
                        b"Accept: " + b"a," * 3000,
                        b"Mcp-Session-Id: \x00",
                    ]
                )
            )
        body = r.choice([b"", b"0\r\n\r\n", b"zz\r\n", b"{}"])
        return line + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body

    def headers(self, session: str | None) -> dict[str, Any]:
        r = self.rng
        out: dict[str, Any] = {"session": session}
        roll = r.random()
        if roll < 0.05:
            out["accept"] = r.choice(["application/json", "text/html", "", "\xff\xfe"])
        elif roll < 0.08:
            out["contentType"] = r.choice(["text/plain", "", "application/\xe9"])
        elif roll < 0.12:
            out["headers"] = {
                "mcp-protocol-version": r.choice(
                    ["2024-01-01", "\xff", "2026-07-28", "2025-03-26", "x" * 500]
                )
            }
        elif roll < 0.15:
            out["session"] = r.choice(["", "nope", "\xe9" * 40, "x" * 2000])
        return out


class Checker:
    """Sends fuzz requests through an L{ApiHarness} and checks every answer."""

    def __init__(self, tmp: Path) -> None:
        self.h = ApiHarness(tmp / "state")
        self.h.site.guard.maxPerPeer = 10**6  # a GatewaySite
        self.era2026 = self.h.initialize(version="2025-11-25")
        self.handshake = self.h.initialize(version="2025-03-26")
        self.statuses: dict[int, int] = {}

    def send(self, method: str, path: str, raw: bytes | None = None, **kwargs: Any) -> Response:
        response = self.h.request(method, path, raw=raw, **kwargs)
        self.answerChild()
        self.h.reactor.advance(1.0)
        return response

    def answerChild(self) -> None:
        for proc in self.h.reactor.processes:
            if proc.ended:
                continue
            seen = getattr(proc, "seen", 0)
            new = proc.written[seen:]
            proc.seen = len(proc.written)  # type: ignore[attr-defined]
            for line in b"".join(new).split(b"\n"):
                if not line:
                    continue
                strict(line)  # the child only ever gets strict JSON
                sent = json.loads(line)
                if isinstance(sent, dict) and "method" in sent and "id" in sent:
                    if sent["method"] == "initialize":
                        result = {
                            "protocolVersion": "2025-11-25",
                            "capabilities": {},
                            "serverInfo": {"name": "fake", "version": "0"},
                        }
                    else:
                        result = {}
                    proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": result})

    def check(self, response: Response) -> None:
        if getattr(response, "raw", False):
            return
        raw = response.transport.value()
        if b"\r\n\r\n" not in raw:
            return  # still waiting (a GET stream, or a request for a child that restarts)
        status = response.status
        self.statuses[status] = self.statuses.get(status, 0) + 1
        assert status != 500, raw[:500]
        body = response.body
        kind = response.headers.get("content-type", "")
        if kind == "application/json":
            strict(body)
        elif kind == "text/event-stream":
            for line in body.split(b"\n"):
                if line.startswith(b"data: "):
                    strict(line[6:])
        elif kind.startswith("text/plain"):  # /metrics
            assert status == 200 and body.startswith(b"# HELP"), body[:200]
        else:
            assert body == b"" or status in (400, 408, 503), (status, body[:200])

    def sendRaw(self, data: bytes) -> Response:
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
        protocol = self.h.site.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        protocol.dataReceived(data)  # nothing may escape
        response = Response(transport)
        response.protocol = protocol  # type: ignore[attr-defined]
        raw = transport.value()
        assert raw == b"" or raw.startswith(b"HTTP/1.1 "), raw[:200]
        assert b"HTTP/1.1 500" not in raw, raw[:300]
        response.raw = True  # type: ignore[attr-defined]  # maybe several responses
        return response

    def close(self, response: Response) -> None:
        protocol: Any = getattr(response, "protocol")  # noqa: B009  # set by the Harness
        protocol.connectionLost(Failure(ConnectionDone()))


def strict(data: bytes) -> None:
    """C{data} is strict JSON: UTF-8 without lone surrogates, no NaN or Infinity."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-strict JSON token {token} in {data[:200]!r}")

    json.loads(data.decode("utf-8"), parse_constant=refuse)


def test_a_few_thousand_hostile_requests(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    fuzz = Fuzzer(rng)
    checker = Checker(tmp_path)
    h = checker.h
    actions: list[Callable[[], Response]] = [
        lambda: checker.send(
            "POST",
            "/srv/mcp",
            fuzz.body(),
            **fuzz.headers(rng.choice([checker.era2026, checker.handshake, checker.handshake])),
        ),
        lambda: checker.send("POST", "/srv/mcp", fuzz.body(), **fuzz.headers(None)),
        lambda: checker.send(
            rng.choice(["GET", "DELETE", "PUT", "PATCH", "OPTIONS"]),
            rng.choice(
                [
                    "/srv/mcp",
                    "/srv/mcp/x",
                    "/%ff/mcp",
                    "/%ff",
                    "/x",
                    "/sessions/%ed%a0%80",
                    "/api/v1/servers/%ff",
                    "/health",
                    "/api/v1/%ff%fe",
                    "/sessions",
                    "/sessions/by-pid/" + "9" * 5000,
                    "/sessions/by-pid/%C2%B2",
                    "/metrics",
                    "/api/v1/servers/srv/logs?follow=%ff",
                    "/api/v1/servers/srv/logs?follow=false",
                ]
            ),
            accept=rng.choice([ACCEPT_BOTH, "text/event-stream", None]),
            session=rng.choice([None, "nope"]),
        ),
        lambda: checker.send(
            rng.choice(["POST", "PATCH"]),
            rng.choice(["/api/v1/servers", "/api/v1/servers/srv"]),
            fuzz.body(),
        ),
        lambda: checker.sendRaw(fuzz.head()),
    ]
    weights = [65, 10, 10, 10, 5]
    with capturedGatewayLogs() as events:
        for _ in range(ROUNDS):
            response = rng.choices(actions, weights)[0]()
            checker.answerChild()
            checker.check(response)
            checker.close(response)
            if h.gateway.sessions.get(checker.era2026) is None:
                checker.era2026 = h.initialize(version="2025-11-25")  # DELETEd by the fuzz
            if h.gateway.sessions.get(checker.handshake) is None:
                checker.handshake = h.initialize(version="2025-03-26")
        for _ in range(70):  # past every request timeout and keep-alive
            h.reactor.advance(1.0)
            checker.answerChild()
    failures = [e for e in events if "log_failure" in e]
    assert not failures, [
        (e.get("log_format"), e["log_failure"].getErrorMessage()) for e in failures[:5]
    ]
    assert checker.statuses.get(500, 0) == 0
    # Every family was met: refusals of each kind, and successes.
    for status in (200, 202, 400, 404, 413):
        assert checker.statuses.get(status, 0) > 0, checker.statuses
    assert sum(checker.statuses.values()) > ROUNDS * 0.9
    # Nothing is left behind.
    assert keepAliveFor(h.reactor).streams == set()
    for session in h.gateway.sessions:
        assert session.inFlight == 0, session.id
    for pool in h.gateway.pools.values():
        for upstream in cast(ServerPool, pool).upstreams():
            assert upstream.router.clientRequestsInFlight() == 0
