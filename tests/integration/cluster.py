"""A cluster of real gateways behind a real HAProxy, for end-to-end tests.

L{RunningCluster} writes one cluster key file (32 random bytes, base64, mode
0600), one tokens file (a token per principal) and one servers file, starts
C{replicas} C{twist mcpgateway} processes on free 127.0.0.1 ports, each with
its own HOME and state directory, C{--replica-id r1…rN} and
C{--cluster-advertise http://127.0.0.1:PORT} (and no per-principal limits: the
tests drive many sessions of one principal; a
C{classification} is written to every state directory), then HAProxy in
the foreground (C{-db}) on another free port: C{balance roundrobin} (or another
C{balance}; with C{labelRouting}, each request goes to the replica its session
id's label names, as deploy/haproxy.cfg shows), C{option httpchk GET /health}
every 0.5 s, C{option redispatch} (a refused connection is retried on another
replica). A stats listener tells which replicas HAProxy holds up.

HAProxy comes from C{scripts/install-test-backends --haproxy-only} (a haproxy on
PATH, else Debian's package unpacked into the test cache); when it cannot be
had, L{haproxyCommand} skips the test and says why.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from tests.integration.conftest import CACHE
from tests.integration.gateway import REPO, RunningGateway, freePort, waitFor
from tests.support import mcpclient

VERSION = "2025-06-18"
_HAPROXY_CFG = """\
global
    maxconn 8192
    log stdout format raw local0 info

defaults
    mode http
    log global
    option redispatch 1
    retries 3
    timeout connect 1s
    timeout client 75s
    timeout server 75s
    timeout http-request 10s
    timeout http-keep-alive 15s
    timeout queue 10s

frontend mcp
    bind 127.0.0.1:{port}
    option httplog
{frontendRules}    default_backend gateways

backend gateways
    balance {balance}
    option httpchk GET /health
    http-check expect status 200
    default-server check inter 500ms fall 1 rise 1 maxconn 2000
{backendRules}{servers}

listen stats
    bind 127.0.0.1:{statsPort}
    no log
    stats enable
    stats uri /stats
"""


def haproxyCommand() -> str:
    """The haproxy to run (installed into the test cache on first use); skips
    the calling test, saying why, when there is none."""
    done = subprocess.run(
        [str(REPO / "scripts" / "install-test-backends"), "--haproxy-only", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "MCPGATEWAY_TEST_CACHE": str(CACHE)},
    )
    for line in done.stdout.splitlines():
        if line.startswith("HAPROXY="):
            return line.split("=", 1)[1].strip()
    reason = (done.stderr.strip().splitlines() or ["install-test-backends said nothing"])[-1]
    pytest.skip(f"no HAProxy for the cluster tests: {reason}")


def writeTokens(
    path: Path, principals: Sequence[str], admins: Sequence[str] = ()
) -> dict[str, str]:
    """A tokens file with a new token per principal, and per admin (mode
    0600); the C{Authorization} value of each."""
    made = {name: "mcpgw_" + secrets.token_urlsafe(32) for name in (*principals, *admins)}
    entries = [
        {
            "sha256": hashlib.sha256(token.encode()).hexdigest(),
            "principal": name,
            **({"admin": True} if name in admins else {}),
        }
        for name, token in made.items()
    ]
    path.write_text(json.dumps({"version": 1, "tokens": entries}))
    path.chmod(0o600)
    return {name: f"Bearer {token}" for name, token in made.items()}


def writeClusterKey(path: Path) -> Path:
    """One new cluster key (32 bytes, base64, one line), mode 0600."""
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    path.chmod(0o600)
    return path


OPERATOR = "ops"
"""The admin principal every cluster's tokens file has (the whole C{/health})."""


class RunningCluster:
    """C{replicas} gateways sharing one cluster key, behind HAProxy."""

    def __init__(
        self,
        base: Path,
        servers: dict[str, Any],
        replicas: int = 3,
        principals: Sequence[str] = ("alice", "bob"),
        haproxy: str | None = None,
        balance: str = "roundrobin",
        labelRouting: bool = False,
        classification: dict[str, Any] | None = None,
        extraArgs: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.keyFile = writeClusterKey(base / "cluster.key")
        self.tokensFile = base / "tokens.json"
        self.authorization = writeTokens(self.tokensFile, principals, admins=(OPERATOR,))
        self.config = base / "servers.json"
        self.config.write_text(json.dumps({"mcpServers": servers}))
        self.classification = classification
        self.ids = [f"r{i + 1}" for i in range(replicas)]
        self.replicas: dict[str, RunningGateway] = {}
        self.ports: dict[str, int] = {}
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.haproxyOutput = bytearray()
        try:
            for replica in self.ids:
                self.ports[replica] = freePort()
                self.replicas[replica] = self._startReplica(replica, extraArgs, timeout)
            self.port, self.statsPort = freePort(), freePort()
            self._startHaproxy(haproxy or haproxyCommand(), balance, labelRouting, timeout)
        except BaseException:
            self.stop()
            raise

    def _startReplica(
        self, replica: str, extraArgs: Sequence[str], timeout: float
    ) -> RunningGateway:
        home = self.base / replica
        (home / "state").mkdir(parents=True, exist_ok=True)
        if self.classification is not None:  # pinned shares: never promoted
            (home / "state" / "classification.json").write_text(json.dumps(self.classification))
        port = self.ports[replica]
        args = [
            "--port",
            f"tcp:{port}:interface=127.0.0.1",
            "--config",
            str(self.config),
            "--auth-tokens",
            str(self.tokensFile),
            "--cluster-key-file",
            str(self.keyFile),
            "--replica-id",
            replica,
            "--cluster-advertise",
            f"http://127.0.0.1:{port}",
            # Sixteen sessions of one principal would meet the 50/s default.
            "--rate-per-principal",
            "0",
            "--max-requests-per-principal",
            "0",
            *extraArgs,
        ]
        return RunningGateway(args, home, timeout=timeout)

    def _startHaproxy(self, command: str, balance: str, labelRouting: bool, timeout: float) -> None:
        servers = "\n".join(
            f"    server {replica} 127.0.0.1:{self.ports[replica]}" for replica in self.ids
        )
        frontendRules = backendRules = ""
        if labelRouting:  # deploy/haproxy.cfg's commented lines
            frontendRules = (
                "    http-request set-var(txn.owner) req.hdr(Mcp-Session-Id),field(1,.)"
                " if { req.hdr(Mcp-Session-Id) -m found }\n"
                "    http-request set-var(txn.owner) req.hdr(Mcp-Name),field(1,.)"
                " if { req.hdr(Mcp-Method) -m beg tasks/ }\n"
            )
            backendRules = "".join(
                f"    use-server {r} if {{ var(txn.owner) -m str {r} }}\n" for r in self.ids
            )
        cfg = self.base / "haproxy.cfg"
        cfg.write_text(
            _HAPROXY_CFG.format(
                port=self.port,
                statsPort=self.statsPort,
                balance=balance,
                servers=servers,
                frontendRules=frontendRules,
                backendRules=backendRules,
            )
        )
        self.haproxy = subprocess.Popen(
            [command, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        threading.Thread(target=self._readHaproxy, daemon=True).start()
        if not waitFor(lambda: self.up() == set(self.ids), timeout=timeout):
            raise RuntimeError(f"HAProxy did not see every replica up:\n{self.text()}")

    def _readHaproxy(self) -> None:
        assert self.haproxy is not None and self.haproxy.stdout is not None
        for line in iter(self.haproxy.stdout.readline, b""):
            self.haproxyOutput += line

    # -- what tests use ------------------------------------------------------------------

    def url(self, server: str) -> str:
        """The MCP endpoint of C{server} through HAProxy."""
        return f"http://127.0.0.1:{self.port}/{server}/mcp"

    def replicaUrl(self, replica: str, server: str) -> str:
        """The MCP endpoint of C{server} on one replica, HAProxy bypassed."""
        return f"http://127.0.0.1:{self.ports[replica]}/{server}/mcp"

    def health(self, replica: str) -> dict[str, Any]:
        """A replica's whole C{/health}, asked with the operator's (an admin's) token."""
        return self.replicas[replica].health(self.authorization[OPERATOR].split()[1])

    def owner(self, sessionId: str) -> str:
        """The replica a sealed session id names (its cleartext label)."""
        label = sessionId.split(".", 1)[0]
        assert label in self.replicas, f"session id {sessionId!r} names no replica"
        return label

    def up(self) -> set[str]:
        """The replicas HAProxy holds up (its stats page)."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.statsPort}/stats;csv", timeout=2
            ) as response:
                rows = response.read().decode().splitlines()
        except OSError:
            return set()
        header = rows[0].lstrip("# ").split(",")
        name, status = header.index("svname"), header.index("status")
        return {
            fields[name]
            for fields in (row.split(",") for row in rows[1:] if row)
            if fields[0] == "gateways" and fields[name] in self.replicas and fields[status] == "UP"
        }

    def kill(self, replica: str) -> None:
        """SIGKILL one replica (its children are orphaned and see stdin close)."""
        process = self.replicas[replica].process
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def text(self) -> str:
        """Every replica's output, labelled, then HAProxy's."""
        parts = [f"=== {r}\n{g.text()[-6000:]}" for r, g in self.replicas.items()]
        return "\n".join([*parts, f"=== haproxy\n{self.haproxyText()[-3000:]}"])

    def haproxyText(self) -> str:
        return self.haproxyOutput.decode("utf-8", "replace")

    def refusals(self) -> list[str]:
        """HAProxy's log lines of requests not answered 2xx (diagnostics)."""
        found = []
        for line in self.haproxyText().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[2] == "mcp" and not fields[5].startswith("2"):
                found.append(line)
        return found

    def stop(self) -> None:
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()
        for gateway in self.replicas.values():
            gateway.stop()


# -- clients ------------------------------------------------------------------------------


HttpStatus = mcpclient.RpcError
"""A refusal: its C{status} and C{body}."""


def post(
    url: str, body: Any, authorization: str, session: str | None = None, timeout: float = 30.0
) -> tuple[str | None, list[Any]]:
    """POST one JSON-RPC message; the session id of the answer and its
    messages (an SSE answer's events, else the JSON body). L{HttpStatus} on
    an HTTP error."""
    headers = {"authorization": authorization}
    reply = mcpclient.Session(url, VERSION, headers, timeout, id=session).post(body)
    if reply.status >= 400:
        raise HttpStatus(reply)
    return reply.session, reply.messages


def initialize(url: str, authorization: str) -> str:
    """A new session over raw HTTP (initialize, then initialized); its id."""
    session = mcpclient.Session(url, VERSION, {"authorization": authorization}, name="cluster-test")
    session.open()
    assert session.id is not None
    return session.id


def callTool(
    url: str, authorization: str, session: str, name: str, arguments: dict[str, Any], rid: int = 1
) -> dict[str, Any]:
    """One C{tools/call} over raw HTTP; its JSON-RPC answer."""
    call = {"name": name, "arguments": arguments}
    _, messages = post(
        url,
        {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": call},
        authorization,
        session,
    )
    return messages[-1]  # type: ignore[no-any-return]


class _DisconnectFailsTheCall(httpx2.AsyncBaseTransport):
    """An httpx transport that answers 502 for a request whose connection
    closed before any response came back.

    HAProxy does that on purpose: when a request on a kept-alive connection
    to a replica fails on a network error (the replica was killed with the
    request in flight), HAProxy closes the client's connection without a
    word, so that the client decides whether to retry (its
    C{abort_keep_alive} path). The TypeScript SDK fails that one call; the
    Python SDK (2.3) lets the transport error end the whole client. With this
    transport a Python session fails the call and goes on, as a TypeScript
    one does, so the tests judge the cluster and not the SDK's error
    handling. The call is still recorded as failed, and a test checks it was
    in flight at the kill.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self.inner.handle_async_request(request)
        except httpx2.RemoteProtocolError as e:
            if "without sending a response" not in str(e):
                raise
            return httpx2.Response(502, request=request, text=f"test client: {e}")

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def sdkClient(
    url: str,
    authorization: str,
    sessionIds: set[str] | None = None,
    disconnectFailsTheCall: bool = False,
    **options: Any,
) -> AsyncIterator[Client]:
    """A Python SDK client (C{mcp.Client}, its "legacy" mode: the handshake era) that sends
    C{authorization}; every session id its requests carry is added to
    C{sessionIds} (one id: it never re-initialized). With
    C{disconnectFailsTheCall}, a connection closed without a response fails
    that request only (L{_DisconnectFailsTheCall})."""
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def note(request: Any) -> None:
        sid = request.headers.get("mcp-session-id")
        if sid and sessionIds is not None:
            sessionIds.add(sid)

    async with create_mcp_http_client(headers={"Authorization": authorization}) as http:
        if disconnectFailsTheCall:
            http._transport = _DisconnectFailsTheCall(http._transport)
        http.event_hooks["request"].append(note)
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="legacy", **options) as client:
            yield client


def now() -> float:
    """Wall-clock milliseconds, comparable with the TypeScript client's C{Date.now()}."""
    return time.time() * 1000.0
