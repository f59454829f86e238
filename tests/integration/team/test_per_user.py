"""End to end: the principal is part of the sharing scope, and a
session belongs to the principal that opened it.

A real gateway with C{--auth-tokens} (a tokens file written here: the hash of
each token and its principal), real children (tests/fixtures/scope_server.py,
whose C{where} tool says which child it is) and raw HTTP clients that send
C{Authorization: Bearer}:

 - a C{"perUser": true} server: alice and bob get two children, alice's two
   sessions one; a C{global} server: one child for both;
 - bob presenting alice's session id gets 404 on POST, GET and DELETE, and
   alice's session is untouched by it;
 - after a restart, alice's restored session is still hers (bob: 404).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.auth.tokens import addToken
from tests.support.integration.per_user import tokens
from tests.support.integration.scopes import HttpError, Session, entry, post
from tests.support.mcpclient import stream

pytestmark = pytest.mark.integration


def team(home: Path, start: Any) -> tuple[RunningGateway, dict[str, dict[str, str]]]:
    """A gateway with tokens for alice and bob, and an admin's for ops,
    serving C{mine} (per user) and C{everyone} (global); the
    C{Authorization} header of each."""
    config = writeConfig(
        home / "servers.json",
        {"mine": entry(perUser=True), "everyone": entry(share="global")},
    )
    path, headers = tokens(home, "alice", "bob")
    headers["ops"] = {"authorization": f"Bearer {addToken(path, 'ops', admin=True)}"}
    return start("--config", str(config), "--auth-tokens", str(path)), headers


def request(url: str, method: str, sessionId: str, headers: dict[str, str]) -> int:
    """A GET or DELETE of a session; its status (a GET that is let in would
    open a stream: reading its headers is enough)."""
    sent = {
        "accept": "text/event-stream",
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-06-18",
        **headers,
    }
    opened = stream(url, method, None, sent, timeout=30)
    opened.close()
    return opened.status


def test_two_principals_two_children_on_a_per_user_server_one_on_a_global_one(
    start: Any, home: Path
) -> None:
    gateway, headers = team(home, start)
    mine, everyone = gateway.url("mine"), gateway.url("everyone")
    alice1, alice2 = Session(mine, headers["alice"]), Session(mine, headers["alice"])
    bob = Session(mine, headers["bob"])
    pids = {name: s.where()["instance"] for name, s in (("a1", alice1), ("a2", alice2), ("b", bob))}
    assert pids["a1"] == pids["a2"] != pids["b"]
    shared = {Session(everyone, headers[name]).where()["instance"] for name in ("alice", "bob")}
    assert len(shared) == 1
    ops = headers["ops"]["authorization"].split()[1]
    assert gateway.health(ops)["servers"]["mine"]["children"] == 2
    assert gateway.health(ops)["servers"]["everyone"]["children"] == 1
    for value in headers.values():
        assert value["authorization"].split()[1] not in gateway.text()  # never a token logged


def test_another_principal_with_a_session_id_gets_404_on_post_get_and_delete(
    start: Any, home: Path
) -> None:
    gateway, headers = team(home, start)
    for server in ("mine", "everyone"):
        url = gateway.url(server)
        alice = Session(url, headers["alice"])
        with pytest.raises(HttpError) as posted:
            post(url, {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, alice.id, headers["bob"])
        assert posted.value.status == 404
        assert "Session not found" in json.dumps(posted.value.body)
        assert request(url, "GET", alice.id, headers["bob"]) == 404
        assert request(url, "DELETE", alice.id, headers["bob"]) == 404
        assert alice.where()["instance"] > 0  # still hers, and not ended by bob's DELETE
        assert request(url, "DELETE", alice.id, headers["alice"]) == 200


def test_a_restored_session_still_belongs_to_its_principal(start: Any, home: Path) -> None:
    gateway, headers = team(home, start)
    url = gateway.url("mine")
    alice = Session(url, headers["alice"])
    alice.where()
    gateway.stop()  # SIGTERM: the sessions are saved a last time
    again = start(
        "--config", str(home / "servers.json"), "--auth-tokens", str(home / "tokens.json")
    )
    url = again.url("mine")
    alice.url = url
    with pytest.raises(HttpError) as refused:
        post(url, {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, alice.id, headers["bob"])
    assert refused.value.status == 404
    assert alice.where()["instance"] != Session(url, headers["bob"]).where()["instance"]
