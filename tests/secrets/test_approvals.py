"""A project's own entry (a repository's file) is refused its secret
references unless the user approved exactly that entry: the refusal names
the references and says how to allow them, no secret is read for it, and an
approval is void once the entry changes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from mcpgateway.config.origins import entryDigest
from mcpgateway.config.servers import parseEntry
from mcpgateway.core.spec import EntryOrigin, ServerSpec
from mcpgateway.secrets.approvals import (
    APPROVALS_FILE,
    ApprovalsError,
    SecretsApproval,
    allow,
    allowCommand,
    disallow,
    readApprovals,
    refusal,
)
from mcpgateway.secrets.resolve import SecretError, SecretResolver
from tests.fakes import FakeProcessReactor
from tests.secrets.support import FakeOnePassword, inline

SECRET = "ghp_userSecretNeverForTheRepo0123"
WORKSPACE = "/home/u/clone"
ENTRY: dict[str, Any] = {
    "command": "true",
    "args": ["--config", "${file:~/.aws/credentials}"],
    "env": {"GITHUB_TOKEN": "${keyring:gh}", "OTHER": "${env:GITHUB_TOKEN}"},
}


class CountingStore:
    """A secret store that counts what is asked of it."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get(self, name: str) -> str | None:
        self.asked.append(name)
        return self.values.get(name)


def outcome(d: Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "not fired"
    return results[0]


def resolved(d: Deferred[Any]) -> Any:
    result = outcome(d)
    if isinstance(result, Failure):
        result.raiseException()
    return result


def projectSpec(entry: dict[str, Any] | None = None, name: str = "github") -> ServerSpec:
    """The launch spec of a project's own entry, as the config gives it."""
    entry = entry or ENTRY
    spec = parseEntry(name, entry, {"PATH": "/bin", "HOME": "/home/u"}, "local")
    origin = EntryOrigin(f"{WORKSPACE}/.mcp.json", WORKSPACE, entryDigest(entry))
    return replace(spec, origin=origin)


def approvalOf(spec: ServerSpec) -> SecretsApproval:
    assert spec.origin is not None
    return SecretsApproval(
        spec.name,
        spec.origin.workspace,
        spec.origin.path,
        spec.origin.digest,
        tuple(sorted(spec.references)),
    )


def makeResolver(tmp_path: Path) -> tuple[SecretResolver, CountingStore, FakeOnePassword]:
    store = CountingStore({"gh": SECRET})
    onePassword = FakeOnePassword({"op://V/I/F": SECRET})
    made = SecretResolver(
        FakeProcessReactor(),
        tmp_path / "state",
        {"GITHUB_TOKEN": SECRET},
        inline,
        store=store,
        onePassword=onePassword,
    )
    return made, store, onePassword


def test_a_project_entry_is_refused_its_references_and_nothing_is_read(tmp_path: Path) -> None:
    made, store, onePassword = makeResolver(tmp_path)
    spec = projectSpec({**ENTRY, "args": [*ENTRY["args"], "${op://V/I/F}"]})
    with pytest.raises(SecretError) as caught:
        resolved(made.resolve(spec))
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    for reference in ("${keyring:gh}", "${env:GITHUB_TOKEN}", "${op://V/I/F}"):
        assert reference in message
    assert "${file:~/.aws/credentials}" in message
    assert f"comes from {WORKSPACE}/.mcp.json, a file of the project {WORKSPACE}" in message
    assert "copy the entry to your user scope" in message
    assert allowCommand("github", WORKSPACE) in message
    assert store.asked == [] and onePassword.reads == []


def test_the_users_own_entry_resolves_as_before(tmp_path: Path) -> None:
    made, store, _ = makeResolver(tmp_path)
    spec = replace(projectSpec(), origin=None, args=(), references=frozenset({"${keyring:gh}"}))
    launch, _ = resolved(made.resolve(spec))
    assert dict(launch.env)["GITHUB_TOKEN"] == SECRET and store.asked == ["gh"]


def test_a_project_entry_without_references_needs_no_approval(tmp_path: Path) -> None:
    made, _, _ = makeResolver(tmp_path)
    spec = projectSpec({"command": "true", "env": {"PLAIN": "value"}})
    launch, _ = resolved(made.resolve(spec))
    assert dict(launch.env) == {"PLAIN": "value"}


def test_an_approved_entry_resolves(tmp_path: Path) -> None:
    made, store, _ = makeResolver(tmp_path)
    spec = projectSpec({"command": "true", "env": {"GITHUB_TOKEN": "${keyring:gh}"}})
    allow(tmp_path / "state", approvalOf(spec))
    launch, _ = resolved(made.resolve(spec))
    assert dict(launch.env)["GITHUB_TOKEN"] == SECRET and store.asked == ["gh"]
    mode = (tmp_path / "state" / APPROVALS_FILE).stat().st_mode & 0o777
    assert mode == 0o600
    assert SECRET not in (tmp_path / "state" / APPROVALS_FILE).read_text()


@pytest.mark.parametrize(
    "changed",
    [
        {"command": "curl", "env": {"GITHUB_TOKEN": "${keyring:gh}"}},
        {"command": "true", "env": {"GITHUB_TOKEN": "${keyring:other}"}},
        {"command": "true", "env": {"GITHUB_TOKEN": "${keyring:gh}", "X": "${env:HOME}"}},
        {"command": "true", "args": ["-v"], "env": {"GITHUB_TOKEN": "${keyring:gh}"}},
    ],
)
def test_an_approval_is_void_once_the_entry_changes(
    tmp_path: Path, changed: dict[str, Any]
) -> None:
    made, store, _ = makeResolver(tmp_path)
    approved = projectSpec({"command": "true", "env": {"GITHUB_TOKEN": "${keyring:gh}"}})
    allow(tmp_path / "state", approvalOf(approved))
    with pytest.raises(SecretError, match="changed since its secret references were allowed"):
        resolved(made.resolve(projectSpec(changed)))
    assert store.asked == []


def test_an_approval_is_for_its_server_and_project_only(tmp_path: Path) -> None:
    entry = {"command": "true", "env": {"GITHUB_TOKEN": "${keyring:gh}"}}
    spec = projectSpec(entry)
    approvals = [approvalOf(spec)]
    assert refusal(spec, ["${keyring:gh}"], approvals) is None
    elsewhere = replace(spec, origin=EntryOrigin("/other/.mcp.json", "/other", entryDigest(entry)))
    assert "secret allow github --workspace /other" in str(
        refusal(elsewhere, ["${keyring:gh}"], approvals)
    )
    renamed = replace(spec, name="gh2")
    assert refusal(renamed, ["${keyring:gh}"], approvals) is not None


def test_an_unreadable_approvals_file_refuses(tmp_path: Path) -> None:
    made, store, _ = makeResolver(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / APPROVALS_FILE).write_text("{ not json")
    with pytest.raises(SecretError, match="cannot be read"):
        resolved(made.resolve(projectSpec()))
    assert store.asked == []


def test_allow_replaces_and_disallow_forgets(tmp_path: Path) -> None:
    first = approvalOf(projectSpec({"command": "a", "env": {"T": "${keyring:gh}"}}))
    second = approvalOf(projectSpec({"command": "b", "env": {"T": "${keyring:gh}"}}))
    allow(tmp_path, first)
    allow(tmp_path, second)  # the same server, project and file: in its place
    assert readApprovals(tmp_path) == [second]
    assert disallow(tmp_path, "github", "/elsewhere") == 0
    assert disallow(tmp_path, "github", WORKSPACE) == 1
    assert readApprovals(tmp_path) == []


def test_an_approvals_file_of_another_shape_is_an_error(tmp_path: Path) -> None:
    (tmp_path / APPROVALS_FILE).write_text(json.dumps({"approvals": {}}))
    with pytest.raises(ApprovalsError, match="not an approvals file"):
        readApprovals(tmp_path)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_any_json_item_is_an_approval_or_none(item: Any) -> None:
    found = SecretsApproval.fromJson(item)
    if found is not None:
        assert SecretsApproval.fromJson(found.toJson()) == found


def test_the_refusal_is_the_servers_last_exit_and_the_calls_error(tmp_path: Path) -> None:
    """What status, doctor (C{lastExit}), the log and the call's error say."""
    from mcpgateway.core.fanout import SharedFanout
    from mcpgateway.core.upstream import ServerUnavailable, Upstream
    from tests.fakes import capturedGatewayLogs, fakeSpawner

    reactor = FakeProcessReactor()
    made, store, _ = makeResolver(tmp_path)
    spec = replace(projectSpec(), executable="/bin/true")
    upstream = Upstream(spec, fakeSpawner(reactor, secrets=made), SharedFanout())
    with capturedGatewayLogs() as events:
        failure = outcome(upstream.ensure())
    assert isinstance(failure, Failure) and failure.check(ServerUnavailable)
    command = allowCommand("github", WORKSPACE)
    assert "server 'github' cannot start: " in failure.getErrorMessage()
    assert command in failure.getErrorMessage()
    assert (upstream.lastExit or "").startswith("not started: ") and command in str(
        upstream.lastExit
    )
    assert any(command in str(event.get("why")) for event in events)
    assert reactor.spawned == [] and store.asked == []
