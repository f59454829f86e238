"""Refusals of the sandbox explained, and a repository that cannot widen its
own sandbox, in a real gateway (C{twistd -n mcpgateway --sandbox auto},
bubblewrap) with the Python SDK:

 - a confined server whose tool writes where its sandbox does not let it
   (its own directory, read-only; a directory of this machine outside its
   view) answers the call with an error result in its own words; the
   gateway's log (once per path), C{/health}, C{mcpgateway status} and
   C{doctor} say the sandbox is the likely cause, name the path and the
   C{allowWrite} that allows it; an ordinary call adds nothing;
 - a data file its entry names directly in the home, which the sandbox
   binds on its own: a warning as the child starts, and a save that
   renames onto it explained with the folder of its own that fixes it;
 - a cloned repository's C{.mcp.json} entry that says C{"sandbox": false}
   still runs confined (it cannot read the fake home's SSH key), with a
   warning naming the server, the file and the widening, until the person
   approves that very entry; then its children run as it asks.

Bubblewrap must work here (CI installs it); the tests skip, saying why,
only where it cannot run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.sandboxapprove import candidates
from mcpgateway.config.sandboxapprovals import approve
from tests.integration.gateway import REPO, RunningGateway, waitFor, writeConfig
from tests.integration.sandboxkit import HOSTILE, SECRET, bwrapOrSkip, fakeHome, toolCall
from tests.support.integration.detached import runCli

pytestmark = pytest.mark.integration

REFUSED = REPO / "tests" / "fixtures" / "refused_server.py"
LIKELY = "a tool call failed, likely because of the sandbox: "


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """C{python -m mcpgateway.cli ARGS --state-dir <home>/state}."""
    return runCli(home, *args)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory of this machine outside the home, which no confined
    child sees (its /var/tmp is its own)."""
    path = Path(tempfile.mkdtemp(prefix="mcpgw-outside-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def refusals(gateway: RunningGateway, server: str) -> list[str]:
    line = gateway.health()["servers"][server]
    return list(line.get("sandboxRefusals") or [])


def test_a_refusal_in_a_tool_result_is_explained_with_its_path_and_fix(
    home: Path, start: Any, outside: Path
) -> None:
    bwrapOrSkip()
    own = home / "srv"
    own.mkdir()
    script = own / "refused_server.py"
    shutil.copy(REFUSED, script)
    config = writeConfig(
        home / "servers.json", {"writer": {"command": sys.executable, "args": [str(script)]}}
    )
    gateway: RunningGateway = start("--config", str(config), "--sandbox", "auto")
    url = gateway.url("writer")

    assert toolCall(url, "echo", {"message": "hello"}) == {"text": "hello", "isError": False}
    assert refusals(gateway, "writer") == []  # an ordinary call: nothing read, nothing said

    target = own / "out.txt"  # its own directory: read-only in its sandbox
    answer = toolCall(url, "write", {"path": str(target)})
    assert answer["isError"] is True and "Read-only file system" in answer["text"]
    assert not target.exists()
    told = (
        LIKELY + 'the sandbox denied writing ~/srv/out.txt: allow it with "sandbox":'
        ' {"filesystem": {"allowWrite": ["~/srv/out.txt"]}}'
    )
    assert waitFor(lambda: refusals(gateway, "writer") == [told], 10), gateway.health()
    toolCall(url, "write", {"path": str(target)})  # the same path again: said once
    assert waitFor(lambda: f"server writer: {told}" in gateway.text(), 10)
    assert gateway.text().count(f"server writer: {told}") == 1

    # A directory of this machine the sandbox does not show: not found in
    # there, found here (off the reactor), told with the directory to allow.
    elsewhere = outside / "out.txt"
    answer = toolCall(url, "write", {"path": str(elsewhere)})
    assert answer["isError"] is True and "No such file or directory" in answer["text"]
    unseen = (
        f"{LIKELY}{outside}, where it would make {elsewhere}, exists on this machine but not"
        f' in the sandbox: allow it with "sandbox": {{"filesystem": {{"allowWrite":'
        f' ["{outside}"]}}}}'
    )
    assert waitFor(lambda: refusals(gateway, "writer") == [told, unseen], 10)
    answer = toolCall(url, "write", {"path": "/nowhere/at/all.txt"})  # not here either
    assert answer["isError"] is True
    assert refusals(gateway, "writer") == [told, unseen]

    status = cli(home, "status", "--json")
    assert status.returncode == 0, status.stderr
    line = json.loads(status.stdout)["health"]["servers"]["writer"]
    assert line["sandboxRefusals"] == [told, unseen]
    text = cli(home, "status").stdout
    assert f"! {told}" in text and "mcpgateway sandbox suggest writer" in text
    doctor = json.loads(cli(home, "doctor", "--json").stdout)
    [check] = [c for c in doctor["checks"] if c["name"] == "sandboxRefusals"]
    assert check["status"] == "fail" and f"writer: {told}" in check["details"]
    assert "mcpgateway sandbox suggest writer" in check["fix"]


def test_a_data_file_directly_in_the_home_is_warned_of_and_its_failure_explained(
    home: Path, start: Any
) -> None:
    """Its entry's C{MEMORY_FILE_PATH} names a file in the home itself: the
    sandbox binds that file alone, and a server that saves it by renaming
    a temporary file onto it fails (C{EBUSY}): said as the child starts,
    and again, as the likely cause, when a call fails of it."""
    bwrapOrSkip()
    own = home / "srv"
    own.mkdir()
    script = own / "refused_server.py"
    shutil.copy(REFUSED, script)
    data = home / "mem2.jsonl"
    entry = {
        "command": sys.executable,
        "args": [str(script)],
        "env": {"MEMORY_FILE_PATH": str(data)},
    }
    config = writeConfig(home / "servers.json", {"memory": entry})
    gateway: RunningGateway = start("--config", str(config), "--sandbox", "auto")
    url = gateway.url("memory")
    moved = f"MEMORY_FILE_PATH={home}/.local/share/memory/mem2.jsonl"

    answer = toolCall(url, "replace", {"path": str(data), "text": "{}"})
    assert answer["isError"] is True and "Device or resource busy" in answer["text"], answer
    warned = "server memory: the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, writable"
    assert waitFor(lambda: warned in gateway.text(), 10), gateway.text()
    assert moved in gateway.text()
    told = (
        LIKELY + "the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, not its folder"
        " (your home): the server's rename of a file onto it was refused (a file shown on its"
        f" own cannot be replaced); give its data a folder of its own: {moved}"
    )
    assert waitFor(lambda: refusals(gateway, "memory") == [told], 10), gateway.health()
    doctor = json.loads(cli(home, "doctor", "--json").stdout)
    [check] = [c for c in doctor["checks"] if c["name"] == "sandboxRefusals"]
    assert check["status"] == "fail" and f"memory: {told}" in check["details"]


def shadowUrl(config: Path, project: Path, name: str) -> str | None:
    """The URL the gateway rewrote the project's server C{name} to, once it did."""
    try:
        projects = json.loads(config.read_text()).get("projects", {})
    except ValueError:  # caught mid-write
        return None
    found = projects.get(str(project), {}).get("mcpServers", {}).get(name)
    return str(found["url"]) if isinstance(found, dict) and found.get("type") == "http" else None


def test_a_repository_cannot_unconfine_its_own_server_until_approved(
    home: Path, start: Any
) -> None:
    bwrapOrSkip()
    fakeHome(home)
    clone = home / "clone"
    clone.mkdir()
    entry = {"type": "stdio", "command": sys.executable, "args": [str(HOSTILE)], "sandbox": False}
    (clone / ".mcp.json").write_text(json.dumps({"mcpServers": {"loose": entry}}))
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "projects": {
                    str(clone): {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}
                }
            }
        )
    )
    os.chmod(config, 0o600)
    gateway: RunningGateway = start("--rewrite-config", "--sandbox", "auto")
    assert waitFor(lambda: shadowUrl(config, clone, "loose") is not None, 20), gateway.text()
    url = shadowUrl(config, clone, "loose")
    assert url is not None
    key = str(home / ".ssh" / "id_rsa")

    read = toolCall(url, "read", {"path": key})
    assert read["ok"] is False, read  # confined: the key is not there
    workspace = os.path.realpath(clone)
    warned = (
        f"server 'loose' ({workspace}/.mcp.json): its \"sandbox\" asks for more than the default"
        ' profile ("sandbox": false)'
    )
    assert waitFor(lambda: warned in gateway.text(), 10), gateway.text()
    assert f"mcpgateway sandbox approve loose --workspace {workspace}" in gateway.text()

    # What `mcpgateway sandbox approve loose --workspace CLONE --yes` records.
    [candidate] = candidates(home / "state", "loose", workspace)
    # Its script is outside its workspace: shown only once approved, too.
    assert candidate.widenings == ("sandbox", f"args[0] {os.path.realpath(HOSTILE)}")
    approve(home / "state", candidate.approval())

    def unconfined() -> bool:
        answer = toolCall(url, "read", {"path": key})
        return bool(answer.get("ok")) and SECRET in str(answer.get("text"))

    assert waitFor(unconfined, 30, 0.5), gateway.text()
