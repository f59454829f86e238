"""The bodies the gateway shows operators, pinned byte for byte.

/health, /sessions, /metrics, /api/v1/servers and /api/v1/servers/<name>
after one fixed scenario on fake children and a fake clock: a shared server
that served a call and crashed once, a per-session server with one session,
and a server whose circuit is open. Restructuring the core (the read model,
sharing as types) must not change a byte of them. After an intended change,
regenerate with C{MCPGATEWAY_UPDATE_GOLDEN=1 pytest tests/test_golden_bodies.py}
and review the diff of C{tests/golden/}.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from mcpgateway import __version__
from tests.http import initializeMessage
from tests.support.web.api import FAKE, ApiHarness

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("MCPGATEWAY_UPDATE_GOLDEN") == "1"


def child(h: ApiHarness, server: str) -> Any:
    """The latest child process of C{server} (its argv names the server)."""
    return [p for p in h.reactor.processes if server in p.args][-1]


def scenario(tmp_path: Path) -> ApiHarness:
    h = ApiHarness(
        tmp_path / "state",
        mainServers={
            "srv": {"command": FAKE, "args": ["-m", "srv"], "env": {"SRV_KEY": "v"}},
            "st": {"command": FAKE, "args": ["-m", "st"], "mode": "stateful"},
            "broken": {"command": FAKE, "args": ["-m", "broken"], "requestTimeout": 5000},
        },
    )
    sid = h.initialize("srv")
    call = h.request(
        "POST",
        "/srv/mcp",
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo"}},
        session=sid,
    )
    h.reactor.advance(0.25)
    srv = child(h, "srv")
    forwarded = [m for m in srv.sentMessages() if m.get("method") == "tools/call"][-1]
    srv.reply({"jsonrpc": "2.0", "id": forwarded["id"], "result": {"ok": True}})
    assert call.events()[0]["result"] == {"ok": True}
    h.reactor.advance(10)
    srv.exit(2)  # the shared child dies once; with a session attached it comes back
    h.reactor.advance(0.5)
    h.answerHandshake(h.reactor.processes.index(child(h, "srv")))
    h.initialize("st", requestId=7)
    for attempt in range(5):  # a server that dies before it initializes: its circuit opens
        h.request(
            "POST",
            "/broken/mcp",
            initializeMessage(clientInfo={"name": "t", "version": "1"}),
        )
        while sum("broken" in p.args for p in h.reactor.processes) <= attempt:
            h.reactor.advance(1)  # the restart backoff
        child(h, "broken").exit(1)
    return h


def normalized(text: str, h: ApiHarness) -> str:
    """Replace what differs between runs and machines: session ids, the test
    process's own pid and resident size, the interpreter's path, the test's
    temporary directory (in the file an entry came from), the version."""
    for index, session in enumerate(sorted(h.gateway.sessions, key=lambda s: s.server)):
        text = text.replace(session.id, f"<session-{index}>")
    text = re.sub(rf'"pid": ?{os.getpid()}\b', '"pid": "<gateway-pid>"', text)
    text = text.replace(json.dumps(FAKE)[1:-1], "<python>")
    text = text.replace(json.dumps(str(h.stateDir.parent))[1:-1], "<tmp>")
    text = re.sub(r'"rssBytes": ?\d+', '"rssBytes": "<rss>"', text)
    text = re.sub(r"^(mcpgateway_gateway_resident_bytes) \S+$", r"\1 <rss>", text, flags=re.M)
    text = re.sub(r'python="[^"]*",twisted="[^"]*"', 'python="<python>",twisted="<twisted>"', text)
    return text.replace(__version__, "<version>")


def check(name: str, body: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(body)
    assert path.is_file(), f"{path} is missing: run with MCPGATEWAY_UPDATE_GOLDEN=1"
    assert body == path.read_text(), f"{name} changed; see the module docstring"


def pretty(body: bytes) -> str:
    document: Any = json.loads(body)
    return json.dumps(document, indent=1, sort_keys=False) + "\n"


@pytest.mark.parametrize(
    "name, path",
    [
        ("health.json", "/health"),
        ("sessions.json", "/sessions"),
        ("api-servers.json", "/api/v1/servers"),
        ("api-server-srv.json", "/api/v1/servers/srv"),
        ("api-server-broken.json", "/api/v1/servers/broken"),
    ],
)
def test_json_bodies(tmp_path: Path, name: str, path: str) -> None:
    h = scenario(tmp_path)
    response = h.request("GET", path)
    assert response.status == 200, response.body
    check(name, normalized(pretty(response.body), h))


def test_metrics_body(tmp_path: Path) -> None:
    h = scenario(tmp_path)
    response = h.request("GET", "/metrics")
    assert response.status == 200
    lines = [
        line
        for line in response.body.decode().splitlines()
        if not line.startswith("mcpgateway_child_resident_bytes")
    ]
    check("metrics.txt", normalized("\n".join(lines) + "\n", h))
