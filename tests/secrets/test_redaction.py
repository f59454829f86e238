"""A resolved value is nowhere but in the child: every log event of a start,
a failed start and a child's stderr, and every page the gateway shows
(C{/health}, the management API, the status page, a server's log) is
searched for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.secrets.resolve import SecretResolver
from mcpgateway.secrets.store import SecretStore
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.secrets.support import FakeOnePassword, inline
from tests.support.web import api as api_support
from tests.support.web.api import FAKE, ApiHarness

SECRET = "ghp_redactionCheck0123456789xyz"
OP_VALUE = "op-redaction-check-value"
PAGES = (
    "/health",
    "/api/v1/servers",
    "/api/v1/servers/srv",
    "/api/v1/servers/broken",
    "/api/v1/servers/srv/logs?follow=false",
    "/api/v1/servers/broken/logs?follow=false",
    "/api/v1/health",
    "/",
)


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHarness]:
    """The API harness, its spawner resolving secrets from a store with
    C{gh} in it and a 1Password that knows C{op://V/I/F}."""
    store = SecretStore(tmp_path / "secrets", keyring=None)
    store.put("gh", SECRET)

    def spawner(reactor: FakeProcessReactor) -> Any:
        resolver = SecretResolver(
            reactor,
            tmp_path / "secrets",
            {},
            inline,
            store=store,
            onePassword=FakeOnePassword({"op://V/I/F": OP_VALUE}),
        )
        return fakeSpawner(reactor, secrets=resolver)

    monkeypatch.setattr(api_support, "fakeSpawner", spawner)
    servers = {
        "srv": {
            "command": FAKE,
            "args": ["--key=${op://V/I/F}"],
            "env": {"GITHUB_TOKEN": "${keyring:gh}"},
        },
        "broken": {"command": FAKE, "env": {"T": "${keyring:gh}", "U": "${keyring:nowhere}"}},
    }
    yield ApiHarness(tmp_path / "state", mainServers=servers)


def test_a_value_reaches_the_child_and_no_log_or_page(harness: ApiHarness) -> None:
    with capturedGatewayLogs() as events:
        harness.running("srv")
        proc = harness.process()
        proc.stderr(f"starting with {SECRET} and {OP_VALUE}\n".encode())
        broken = harness.request("POST", "/broken/mcp", _initialize())
        pages = [harness.request("GET", path) for path in PAGES]
        harness.api("POST", "/servers/srv/restart")
    assert proc.env is not None and proc.env["GITHUB_TOKEN"] == SECRET
    assert proc.args[1:] == [f"--key={OP_VALUE}"]
    assert "${keyring:nowhere}" in broken.body.decode()
    shown = [broken.body.decode()] + [page.body.decode() for page in pages]
    assert all(page.status == 200 for page in pages), [p.status for p in pages]
    logged = repr(events)
    for text in [*shown, logged]:
        assert SECRET not in text and OP_VALUE not in text
    assert "--key=${op://V/I/F}" in pages[2].body.decode()  # the args show the reference
    assert "starting with ${keyring:gh} and ${op://V/I/F}" in pages[4].body.decode()
    assert "no secret 'nowhere'" in pages[3].body.decode()
    assert "${keyring:nowhere}" in logged


def _initialize() -> dict[str, Any]:
    from tests.http import initializeMessage

    return initializeMessage()
