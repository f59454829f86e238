"""A project's entry of the same name as one of the user's servers, and
another server: whatever the project adds, changes or removes under that
name (a C{git pull}, a repository's child rewriting its C{.mcp.json} in a
loop), the sessions of the user's C{/<server>/mcp} carry on, served by the
user's command; only the sessions of the project's own route may end
(or move to its new child) when its entry changes. Through the real
reload path (the config service rebuilds the specs, the gateway
reconfigures its pools), children fake processes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.core.sessions import Session
from tests.fakes import capturedGatewayLogs
from tests.reloading import initialize
from tests.support.core.pools.keyedplacement_reload import Home, reconfigured


def answered(answer: dict[str, Any]) -> bool:
    """Whether C{answer} is the child's answer to the call (marked, or
    not, as coming from a child that restarted meanwhile)."""
    result = answer.get("result") or {}
    return answer.get("id") == 7 and result.get("tools") == []


def users(home: Home) -> dict[str, Any]:
    return {"command": home.exe, "args": ["-u", "user.py"]}


def repository(home: Home, word: str, share: str | None = "global") -> dict[str, Any]:
    entry: dict[str, Any] = {"command": home.exe, "args": ["-u", f"repo-{word}.py"]}
    if share is not None:
        entry["share"] = share
    return entry


def openUser(home: Home) -> Session:
    gateway = home.gateway
    assert gateway is not None
    spawned = len(home.reactor.processes)
    session, answer = gateway.opener.openSession("pw", initialize(), "2025-11-25", scope="")
    if len(home.reactor.processes) > spawned:
        home.handshake(home.reactor.lastProcess)
    assert "result" in home.successResult(answer)
    return session


def runsTheUsersCommand(home: Home, session: Session) -> bool:
    args = home.processOf(session).args
    return "user.py" in args and not any("repo-" in a for a in args)


def test_a_project_entry_added_changed_and_removed_never_ends_the_users_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path, monkeypatch)
    P = home.project("repo")
    home.document["mcpServers"]["pw"] = users(home)
    home.start()
    user = openUser(home)
    assert answered(home.call(user))
    with capturedGatewayLogs() as events:
        home.define(P, repository(home, "a"))  # the repository adds "pw"
        home.edited()
        assert home.alive(user) and answered(home.call(user))
        assert runsTheUsersCommand(home, user)
        project, child = home.open(P)
        assert "repo-a.py" in child.args
        home.define(P, repository(home, "b"))  # and edits it
        home.edited()
        assert home.alive(user) and answered(home.call(user))
        assert answered(home.call(project)) and "repo-b.py" in home.processOf(project).args
        home.define(P, repository(home, "c", share=None))  # its default scope, workspace
        home.edited()
        assert home.alive(user) and answered(home.call(user))
        home.undefine(P)  # and removes it
        home.edited()
        assert home.alive(user) and answered(home.call(user))
        assert runsTheUsersCommand(home, user)
    assert reconfigured(events) == []  # no "server pw changed; ending its sessions"
    said = [e.get("log_format", "") for e in events]
    assert any("the {carried} session(s) of its unchanged routes carry on" in s for s in said)


def test_the_users_own_change_still_ends_its_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path, monkeypatch)
    P = home.project("repo")
    home.document["mcpServers"]["pw"] = users(home)
    home.define(P, repository(home, "a"))
    home.start()
    user = openUser(home)
    with capturedGatewayLogs() as events:
        home.document["mcpServers"]["pw"] = {"command": home.exe, "args": ["-u", "other.py"]}
        home.undefine(P)
        home.edited()
    assert not home.alive(user)
    assert len(reconfigured(events)) == 1


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["define", "undefine"]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from([None, "global", "workspace", "session"]),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=15, deadline=None)
@given(ACTIONS)
def test_whatever_the_repository_does_the_users_session_carries_on(
    actions: list[tuple[str, str, str | None]],
) -> None:
    with tempfile.TemporaryDirectory() as made, pytest.MonkeyPatch.context() as monkeypatch:
        home = Home(Path(made), monkeypatch)
        P = home.project("repo")
        home.document["mcpServers"]["pw"] = users(home)
        home.start()
        user = openUser(home)
        defined = False
        for action, word, share in actions:
            if action == "define":
                home.define(P, repository(home, word, share))
                defined = True
            elif defined:
                home.undefine(P)
                defined = False
            home.edited()
            assert home.alive(user), actions
            assert answered(home.call(user))
            assert runsTheUsersCommand(home, user)
