"""A project's C{.env} does not choose which of your folders your own
project entry's confined child is shown (docs/guide/scopes.md), with a real
gateway, a fake home and a real child, under bubblewrap and under Landlock.

Your own entry of a project (C{projects.<path>.mcpServers} of
C{~/.claude.json}) leaves a C{${NAME}} you do not set to the project's
C{.env}, and the sandbox shows a child the folders its arguments and its
data variables name, writable. The entry here hands C{${WORKDIR}} to a
shell as an argument and C{${STORE}} as C{STORE_DIR}; the shell writes a
marker into each before it runs the hostile fixture
(tests/fixtures/hostile_server.py):

 - a cloned repository's C{.env} that names your C{~/Documents} and another
   repository's C{.git} keeps the server off that project: its route is
   404, C{/health} shows no such route, the log's warning names each key
   and its path (never the C{.env}'s lines), and no child ever wrote a
   marker into either folder or changed what they hold;
 - a C{.env} that names folders inside the project is taken as before: the
   route is served, its confined child wrote its markers there, writes and
   reads through a call, and still sees nothing of the home outside it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration import sandboxkit
from tests.integration.gateway import RunningGateway, waitFor
from tests.support.integration.sandbox import confinedChildren
from tests.support.integration.scopes import BASE_PYTHON, HttpError, Session, keyOf

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]
MECHANISMS = ("bubblewrap", "landlock")
STARTED = {
    "bubblewrap": "sandbox: confined children run in bubblewrap",
    "landlock": "sandbox: confined children run under Landlock",
}
"""The gateway's line saying which mechanism confines its children."""
SERVER = "mine"
SCRIPT = f'touch "$1/started" "$STORE_DIR/started"; exec {BASE_PYTHON} {sandboxkit.HOSTILE}'
"""The child: a marker in each folder it was given, then the hostile
fixture (its C{read} and C{write} tools)."""
ENTRY = {
    "command": "/bin/sh",
    "args": ["-c", SCRIPT, "sh", "${WORKDIR}"],
    "env": {"STORE_DIR": "${STORE}"},
}
"""Your own entry: C{WORKDIR} and C{STORE} are left to the project's C{.env}."""


def mechanismOrSkip(mechanism: str) -> None:
    """Skip, saying why, where C{mechanism} cannot confine here (CI has both)."""
    if mechanism == "bubblewrap":
        sandboxkit.bwrapOrSkip()
        return
    from mcpgateway.sandbox.probe import landlockAbi

    version, why = landlockAbi()
    if version < 1:
        pytest.skip(f"Landlock is not available here: {why}")


def servedProject(
    start: Starter, home: Path, mechanism: str, env: str
) -> tuple[RunningGateway, Path, str]:
    """A gateway confining children by C{mechanism} and serving L{ENTRY} as
    your own entry of the project C{~/proj}, whose C{.env} holds C{env}:
    the gateway, the project and the URL of the project's route."""
    assert not {"WORKDIR", "STORE"} & set(os.environ)  # else yours, never the file's
    project = home / "proj"
    project.mkdir(exist_ok=True)
    (project / ".env").write_text(env)
    config = home / ".claude.json"
    config.write_text(json.dumps({"projects": {str(project): {"mcpServers": {SERVER: ENTRY}}}}))
    gateway = start("--config", str(config), "--sandbox", mechanism)
    return gateway, project, gateway.url(f"{SERVER}~{keyOf(home, project)}")


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_projects_env_naming_your_folders_keeps_your_server_off_it(
    home: Path, start: Starter, mechanism: str
) -> None:
    mechanismOrSkip(mechanism)
    sandboxkit.fakeHome(home)
    documents = home / "Documents"
    documents.mkdir()
    (documents / "taxes.txt").write_text("private")
    other = home / "otherrepo" / ".git"
    other.mkdir(parents=True)
    (other / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
    before = {path: path.read_bytes() for path in (documents / "taxes.txt", other / "config")}
    gateway, project, url = servedProject(
        start, home, mechanism, f"WORKDIR={documents}\nSTORE={other}/\n"
    )
    warned = "a project's file may not choose what your server is shown"
    assert waitFor(lambda: warned in gateway.text()), gateway.text()
    assert waitFor(lambda: STARTED[mechanism] in gateway.text()), gateway.text()
    with pytest.raises(HttpError) as refused:
        Session(url)
    assert refused.value.status == 404, refused.value.body
    assert f"no server named '{SERVER}'" in refused.value.body["error"]["message"]
    served = gateway.health()["servers"].get(SERVER, {})
    assert keyOf(home, project) not in served.get("scopes", {}), served
    [warning] = [line for line in gateway.text().splitlines() if warned in line]
    assert f"server '{SERVER}'" in warning and "not served from this workspace" in warning
    assert f"args[3] {os.path.realpath(documents)}" in warning, warning
    assert f"env.STORE_DIR {os.path.realpath(other)}" in warning, warning
    assert f"outside the workspace {os.path.realpath(project)}" in warning, warning
    assert f"WORKDIR={documents}" not in gateway.text()  # the file's names, never its lines
    # No child of the entry ever ran: nothing was written into either folder.
    assert sorted(os.listdir(documents)) == ["taxes.txt"]
    assert sorted(os.listdir(other)) == ["config"]
    assert {path: path.read_bytes() for path in before} == before
    children = [sandboxkit.commandOf(pid) for pid in sandboxkit.childPids(gateway.process.pid)]
    assert not [c for c in children if str(sandboxkit.HOSTILE) in " ".join(c)], children


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_projects_env_naming_its_own_folders_is_taken(
    home: Path, start: Starter, mechanism: str
) -> None:
    mechanismOrSkip(mechanism)
    sandboxkit.fakeHome(home)
    documents = home / "Documents"
    documents.mkdir()
    (documents / "taxes.txt").write_text("private")
    data, store = home / "proj" / "data", home / "proj" / "store"
    data.mkdir(parents=True)
    store.mkdir()
    gateway, project, url = servedProject(
        start, home, mechanism, f"WORKDIR={data}\nSTORE={store}/\n"
    )
    seen = sandboxkit.toolCall(url, "read", {"path": "/proc/self/environ"})
    assert seen["ok"], seen
    environ = dict(item.split("=", 1) for item in seen["text"].split("\0") if "=" in item)
    assert environ.get("STORE_DIR") == f"{store}/", environ  # the file's value, taken
    # Its folders are its own to write: the markers of its start, and a call's.
    assert (data / "started").exists() and (store / "started").exists(), gateway.text()[-3000:]
    wrote = sandboxkit.toolCall(url, "write", {"path": str(data / "note.txt"), "text": "kept\n"})
    assert wrote["ok"], wrote
    assert (data / "note.txt").read_text() == "kept\n"
    again = sandboxkit.toolCall(url, "read", {"path": str(data / "note.txt")})
    assert again["ok"] and again["text"] == "kept\n", again
    # Confined all the same: nothing of the home outside the project.
    for secret in (documents / "taxes.txt", home / ".ssh" / "id_rsa"):
        refused = sandboxkit.toolCall(url, "read", {"path": str(secret)})
        assert not refused["ok"], (secret, refused)
    assert waitFor(lambda: STARTED[mechanism] in gateway.text()), gateway.text()[-3000:]
    assert "outside the workspace" not in gateway.text()
    assert keyOf(home, project) in gateway.health()["servers"][SERVER]["scopes"]
    if mechanism == "bubblewrap":
        assert confinedChildren(gateway), "the child does not run in bubblewrap"
