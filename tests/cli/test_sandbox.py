"""C{mcpgateway sandbox check|show}, and what C{doctor} says of the sandbox:
from this shell's probe when no gateway runs, from the running gateway's
(its C{GET /api/v1/sandbox}, a fake answer here) when one does."""

from __future__ import annotations

import io
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.http import GatewayClient
from mcpgateway.cli.sandbox import BROWSERS
from mcpgateway.cli.sandboxfacts import HERE
from mcpgateway.sandbox import gaps, mechanisms, probe
from tests.cli.support import Cli, check, writeState
from tests.support.cli.clone import adoptedClone

WORKS: dict[str, Any] = {
    "bwrap": {"path": "/usr/bin/bwrap", "version": "0.8.0", "works": True, "error": None},
    "landlock": {"abi": 7, "error": None},
    "root": False,
    "mechanism": "bwrap",
}
NOTHING: dict[str, Any] = {
    "bwrap": {"path": None, "works": False, "error": "bwrap is not installed"},
    "landlock": {"abi": 0, "error": "Landlock needs Linux 5.13"},
    "root": True,
    "mechanism": "none",
}


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    found = dict(WORKS)
    monkeypatch.setattr(probe, "probe", lambda path=None: found)
    return found


def test_check_says_which_mechanism_works(probed: dict[str, Any], cli: Cli) -> None:
    code, out, _ = cli("sandbox", "check")
    assert code == 0
    assert out.splitlines() == [
        NONE_RUNNING,
        "bubblewrap: works (0.8.0, /usr/bin/bwrap)",
        "Landlock: ABI 7",
        "confined children run in bubblewrap",
    ]
    code, out, _ = cli("sandbox", "check", "--json")
    document = json.loads(out)
    assert document.pop("source")["said"] == NONE_RUNNING
    assert document == WORKS


def test_check_with_nothing_that_works_says_why_and_fails(probed: dict[str, Any], cli: Cli) -> None:
    probed.update(NOTHING)
    code, out, _ = cli("sandbox", "check")
    assert code == 1
    assert out.splitlines()[1:] == [
        "bubblewrap: does not work here: bwrap is not installed",
        "Landlock: not available: Landlock needs Linux 5.13",
        "nothing confines children here: they would run unconfined (install bubblewrap,"
        " allow unprivileged user namespaces, or use a kernel with Landlock)",
        "as root, the kernel does not enforce a child's process limit",
    ]


Running = Callable[..., Path]
"""The C{gateway} fixture: writes the state of a gateway running with the
state members given."""
NONE_RUNNING = f"no gateway running: {HERE}"
GATEWAY = f"the running gateway (pid {os.getpid()})"


class Answering:
    """The running gateway's HTTP answers: its sandbox (C{GET
    /api/v1/sandbox}) as its own probe finds C{probed}, with the
    C{--sandbox} of its state; an empty C{/health}."""

    def __init__(self, probed: dict[str, Any], state: dict[str, Any]) -> None:
        self.probed, self.state = probed, state

    def open(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        body: dict[str, Any] = {"servers": {}}
        if urllib.parse.urlsplit(request.full_url).path == "/api/v1/sandbox":
            mode = str(self.state.get("sandbox") or "auto")
            mechanism = mechanisms.FORCED.get(mode) or self.probed["mechanism"]
            body = {"pid": os.getpid(), "mode": mode, "mechanism": mechanism, "probe": self.probed}
        return io.BytesIO(json.dumps(body).encode())


@pytest.fixture
def gateway(stateDir: Path, locked: None, ctx: CliContext, probed: dict[str, Any]) -> Running:
    """This process as a running gateway (the lock held), which answers
    (L{Answering}): the call writes its state.json, with the members given
    (C{sandbox}, C{config})."""
    state: dict[str, Any] = {}
    ctx.http = GatewayClient(Answering(probed, state), environ={})

    def write(**members: Any) -> Path:
        state.clear()
        state.update(members)
        return writeState(stateDir, os.getpid(), 9100, **members)

    return write


def config(home: Path, entry: dict[str, Any]) -> Path:
    path = home / "servers.json"
    path.write_text(json.dumps({"mcpServers": {"srv": entry}}))
    return path


def test_show_prints_the_profile_in_force_and_the_layout(
    home: Path, probed: dict[str, Any], cli: Cli
) -> None:
    (home / "data").mkdir()
    (home / "code").mkdir()
    (home / "code" / "server.js").write_text("")
    entry = {
        "command": "/usr/bin/node",
        "args": [str(home / "code" / "server.js"), str(home / "data")],
        "sandbox": {"filesystem": {"allowWrite": ["~/out/"]}, "network": "host"},
    }
    path = config(home, entry)
    code, out, _ = cli("sandbox", "show", "srv", "--config", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "server srv: confined (its entry asks for it; the gateway's --sandbox auto)"
    assert lines[1:3] == [f"mechanism: bubblewrap ({NONE_RUNNING})", "network: host"]
    assert f"reads: {home / 'code'}" in lines  # a file's folder: read-only
    assert f"writes: {home / 'data'}, {home / 'out'}" in lines
    code, out, _ = cli("sandbox", "show", "srv", "--config", str(path), "--json")
    document = json.loads(out)
    assert document["confined"] is True and document["mechanism"] == "bwrap"
    assert document["profile"]["network"]["mode"] == "host"
    assert document["command"][0] == "/usr/bin/bwrap" and document["command"][-3:] == [
        "/usr/bin/node",
        str(home / "code" / "server.js"),
        str(home / "data"),
    ]


def test_show_follows_the_running_gateways_default(
    home: Path, probed: dict[str, Any], gateway: Running, cli: Cli
) -> None:
    path = config(home, {"command": "/usr/bin/node"})
    gateway(config=str(path), sandbox="auto")
    code, out, _ = cli("sandbox", "show", "srv")
    assert code == 0
    assert out.splitlines()[0] == (
        "server srv: confined (its entry says nothing; the gateway's --sandbox auto)"
    )
    code, out, _ = cli("sandbox", "show", "srv", "--gateway", "off")
    assert "NOT confined" in out.splitlines()[0]


def test_show_of_a_server_that_is_not_there(home: Path, probed: dict[str, Any], cli: Cli) -> None:
    path = config(home, {"command": "/usr/bin/node"})
    code, _, err = cli("sandbox", "show", "nope", "--config", str(path))
    assert code == 1 and f"no server 'nope' in {path}" in err
    assert "mcpgateway sandbox show nope --workspace DIR" in err  # a project's, perhaps


def test_doctor_probes_only_a_gateway_that_confines_every_server(
    stateDir: Path, probed: dict[str, Any], ctx: CliContext, gateway: Running
) -> None:
    idle = check(stateDir, "sandbox")
    assert idle.status == "info" and "the default: auto" in idle.message
    gateway(sandbox="off")
    assert "(--sandbox off)" in check(stateDir, "sandbox", ctx).message
    gateway(sandbox="auto")
    assert check(stateDir, "sandbox", ctx).message == (
        f"Sandbox: {GATEWAY} confines its children with bubblewrap"
    )
    probed.update(NOTHING)
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "fail" and "apt-get install bubblewrap" in (result.fix or "")


def test_show_finds_an_entry_the_running_gateway_adopted(
    stateDir: Path, home: Path, probed: dict[str, Any], gateway: Running, cli: Cli
) -> None:
    claude = home / ".claude.json"
    served = {"type": "stdio", "command": "/usr/bin/node", "args": [str(home)]}
    written = {"type": "http", "url": "http://127.0.0.1:9100/srv/mcp"}
    claude.write_text(json.dumps({"mcpServers": {"srv": written}}))
    record = {"original": served, "written": written, "url": written["url"], "served": served}
    block = {"location": {"path": ["mcpServers"], "listKey": None}, "workspace": None}
    backup = {
        "version": 2,
        "client": "claude-code",
        "configPath": str(claude),
        "format": "jsondata",
        "blocks": [{**block, "scope": "user scope", "entries": {"srv": record}}],
        "undo": [],
    }
    (stateDir / "config-backup.json").write_text(json.dumps(backup))
    gateway(config=str(claude), sandbox="auto")
    code, out, err = cli("sandbox", "show", "srv")
    assert code == 0, err
    assert out.splitlines()[0] == (
        "server srv: confined (its entry says nothing; the gateway's --sandbox auto)"
    )
    code, _, err = cli("sandbox", "show", "other")
    assert code == 1 and f"no server 'other' in {claude}" in err


FILTER: dict[str, Any] = {
    "works": True,
    "version": "2.5.4",
    "rules": 88,
    "unknown": [],
    "error": None,
}
NO_FILTER: dict[str, Any] = {
    "works": False,
    "version": None,
    "rules": 0,
    "unknown": [],
    "error": "libseccomp is not installed (libseccomp.so.2: the libseccomp2 package)",
}


def test_check_says_whether_the_system_calls_are_filtered(probed: dict[str, Any], cli: Cli) -> None:
    probed["seccomp"] = FILTER
    _, out, _ = cli("sandbox", "check")
    assert out.splitlines()[3:5] == [
        f"  {BROWSERS}",  # a UNIX socket for a server with network: the filter's to refuse
        "system calls: filtered (libseccomp 2.5.4, 88 rules; docs/guide/sandbox.md, System calls)",
    ]
    probed["seccomp"] = NO_FILTER
    code, out, _ = cli("sandbox", "check")
    assert code == 0 and out.splitlines()[3] == (
        f"system calls: NOT filtered: {NO_FILTER['error']} (confined children run without the"
        " filter)"
    )
    assert BROWSERS not in out


@pytest.mark.parametrize(
    ("filtering", "words"),
    [
        (FILTER, "their files, and their sockets by the system-call filter (no pid namespace"),
        (NO_FILTER, "their files only (no pid namespace"),
    ],
)
def test_check_says_what_landlock_confines_when_it_is_the_mechanism(
    probed: dict[str, Any], cli: Cli, filtering: dict[str, Any], words: str
) -> None:
    probed.update(mechanism="landlock", seccomp=filtering)
    _, out, _ = cli("sandbox", "check")
    [verdict] = [line for line in out.splitlines() if line.startswith("confined children")]
    assert verdict.startswith("confined children are confined with Landlock: " + words)
    assert "UDP" not in verdict


def test_show_says_whether_a_servers_system_calls_are_filtered(
    home: Path, probed: dict[str, Any], cli: Cli
) -> None:
    probed["seccomp"] = FILTER
    path = config(home, {"command": "/usr/bin/node", "sandbox": True})
    _, out, _ = cli("sandbox", "show", "srv", "--config", str(path))
    assert (
        "system calls: filtered (docs/guide/sandbox.md, System calls;"
        ' "syscalls": "unfiltered" lifts it)' in out.splitlines()
    )
    path = config(home, {"command": "/usr/bin/node", "sandbox": {"syscalls": "unfiltered"}})
    _, out, _ = cli("sandbox", "show", "srv", "--config", str(path))
    assert 'system calls: not filtered (its entry says "unfiltered")' in out.splitlines()
    _, out, _ = cli("sandbox", "show", "srv", "--config", str(path), "--json")
    assert json.loads(out)["syscalls"] == "unfiltered"
    probed["seccomp"] = NO_FILTER
    path = config(home, {"command": "/usr/bin/node"})
    _, out, _ = cli("sandbox", "show", "srv", "--config", str(path))
    assert "system calls: not filtered (libseccomp is missing here)" in out.splitlines()


def test_doctor_says_when_children_run_without_their_system_call_filter(
    stateDir: Path, probed: dict[str, Any], ctx: CliContext, gateway: Running
) -> None:
    gateway(sandbox="auto")
    probed["seccomp"] = FILTER
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "pass" and "their system calls filtered" in result.message
    probed["seccomp"] = NO_FILTER
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "info" and "without their system-call filter" in result.message
    assert "libseccomp2" in (result.fix or "")


GAPS: dict[str, Any] = {
    "bwrap": ["a root gateway's children keep uid 0 (without capabilities)"],
    "landlock": ["no pid namespace", "UDP (DNS included) goes out, network or not"],
    "neither": ["CPU time: a child may keep every CPU busy (no cgroup)"],
}


def test_check_says_what_each_mechanism_does_not_confine_here(
    probed: dict[str, Any], cli: Cli
) -> None:
    probed["gaps"] = GAPS
    code, out, _ = cli("sandbox", "check")
    assert code == 0
    assert out.splitlines()[1:11] == [
        "bubblewrap: works (0.8.0, /usr/bin/bwrap)",
        "  bubblewrap does NOT confine here:",
        "    - a root gateway's children keep uid 0 (without capabilities)",
        "Landlock: ABI 7",
        "  Landlock does NOT confine here:",
        "    - no pid namespace",
        "    - UDP (DNS included) goes out, network or not",
        "neither mechanism confines:",
        "  - CPU time: a child may keep every CPU busy (no cgroup)",
        "confined children run in bubblewrap",
    ]
    _, out, _ = cli("sandbox", "check", "--json")
    assert json.loads(out)["gaps"] == GAPS
    probed["bwrap"] = NOTHING["bwrap"]  # a mechanism that does not work: why, not its gaps
    _, out, _ = cli("sandbox", "check")
    assert "bubblewrap does NOT confine" not in out and "neither mechanism confines:" in out
    probed["landlock"] = NOTHING["landlock"]  # nothing works: nothing to say it of
    _, out, _ = cli("sandbox", "check")
    assert "neither mechanism confines" not in out


def test_check_lists_what_the_probe_finds_on_this_machine(
    monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """The probe's own gaps (not a stand-in's), one line each."""
    found = {**WORKS, "root": True, "seccomp": FILTER}
    found["gaps"] = {
        "bwrap": gaps.bwrapGaps(WORKS["bwrap"], True, True),
        "landlock": gaps.landlockGaps(True, 4, True, False),
        "neither": gaps.neitherGaps(8192),
    }
    monkeypatch.setattr(probe, "probe", lambda path=None: found)
    _, out, _ = cli("sandbox", "check")
    lines = out.splitlines()
    landlock = lines[lines.index("  Landlock does NOT confine here:") + 1 :]
    said = [line[len("    - ") :] for line in landlock if line.startswith("    - ")]
    assert said == found["gaps"]["landlock"]
    assert any(line.startswith("ioctl on the devices") for line in said)  # ABI 4
    assert any(line.startswith("signals:") for line in said) and gaps.ROOT in said
    assert gaps.SHOWN_SOCKETS in lines[lines.index("  bubblewrap does NOT confine here:") + 2]


def test_doctor_says_what_the_childrens_mechanism_does_not_confine_here(
    stateDir: Path, probed: dict[str, Any], ctx: CliContext, gateway: Running
) -> None:
    probed.update(seccomp=FILTER, gaps=GAPS)
    gateway(sandbox="auto")
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "pass" and result.message == (
        f"Sandbox: {GATEWAY} confines its children with bubblewrap, their system calls"
        " filtered; it does NOT confine here: a root gateway's children keep uid 0 (without"
        " capabilities)"
    )
    gateway(sandbox="landlock")
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "info" and result.message.startswith(
        f"Sandbox: {GATEWAY} confines its children with Landlock, their system calls filtered;"
        " it does NOT confine here: no pid namespace; UDP"
    )


@pytest.mark.parametrize(
    ("mode", "why"),
    [("bubblewrap", "bwrap is not installed"), ("landlock", "Landlock needs Linux 5.13")],
)
def test_doctor_fails_a_named_mechanism_that_does_not_work_here(
    stateDir: Path, probed: dict[str, Any], ctx: CliContext, gateway: Running, mode: str, why: str
) -> None:
    probed.update(NOTHING)
    gateway(sandbox=mode)
    result = check(stateDir, "sandbox", ctx)
    assert result.status == "fail" and f"--sandbox {mode}" in result.message
    assert why in result.message and "fail to start" in result.message
    assert "--sandbox auto" in (result.fix or "")
    probed.update(WORKS)
    probed["landlock"] = {"abi": 0, "error": "Landlock needs Linux 5.13"}
    assert (check(stateDir, "sandbox", ctx).status == "fail") is (mode == "landlock")


def test_show_names_the_mechanism_the_gateway_was_told_to_use(
    home: Path, probed: dict[str, Any], gateway: Running, cli: Cli
) -> None:
    probed["gaps"] = GAPS
    path = config(home, {"command": "/usr/bin/node"})
    gateway(config=str(path), sandbox="landlock")
    code, out, _ = cli("sandbox", "show", "srv")
    assert code == 0
    lines = out.splitlines()
    assert (
        lines[0]
        == "server srv: confined (its entry says nothing; the gateway's --sandbox landlock)"
    )
    assert lines[1:3] == [
        f"mechanism: Landlock (the running gateway's, pid {os.getpid()})",
        "Landlock does NOT confine here: no pid namespace; UDP (DNS included) goes out, network"
        " or not",
    ]
    probed["bwrap"] = NOTHING["bwrap"]
    _, out, _ = cli("sandbox", "show", "srv", "--gateway", "bubblewrap", "--json")
    document = json.loads(out)
    assert (document["mechanism"], document["unworkable"]) == ("bwrap", "bwrap is not installed")
    assert "command" not in document
    _, out, _ = cli("sandbox", "show", "srv", "--gateway", "bubblewrap")
    assert out.splitlines()[1] == (
        "mechanism: bubblewrap, which does not work here (bwrap is not installed): its children"
        " fail to start"
    )


def test_show_names_a_launchers_own_caches_and_the_entry_value_it_ignores(
    home: Path, probed: dict[str, Any], cli: Cli
) -> None:
    entry = {"command": "npx", "args": ["-y", "pkg"], "env": {"npm_config_cache": "/etc"}}
    code, out, _ = cli("sandbox", "show", "srv", "--config", str(config(home, entry)))
    assert code == 0
    lines = out.splitlines()
    caches = [line for line in lines if line.startswith("its launcher's caches: ")]
    assert len(caches) == 1 and "/caches/srv-" in caches[0], lines
    assert caches[0].startswith("its launcher's caches: npm_config_cache=")
    assert any(
        line.startswith("note: npm_config_cache=/etc in its env is ignored: the sandbox names")
        for line in lines
    ), lines
    assert not [line for line in lines if line.startswith("writes: ")]


def test_show_names_the_copy_of_its_package_an_npx_child_writes_in(
    home: Path, probed: dict[str, Any], cli: Cli
) -> None:
    """Where server-memory keeps what it learned, for a user to find and
    back up: the copy its entry keeps through an edit."""
    entry: dict[str, Any] = {"command": "npx", "args": ["-y", "pkg"]}
    code, out, _ = cli("sandbox", "show", "srv", "--config", str(config(home, entry)))
    assert code == 0
    prefix = "its own copy of its package, where it writes beside its code: "
    copies = [line[len(prefix) :] for line in out.splitlines() if line.startswith(prefix)]
    assert len(copies) == 1 and "/copies/srv-" in copies[0] and copies[0].endswith("/package")
    entry["env"] = {"API_KEY": "rotated"}
    _, edited, _ = cli("sandbox", "show", "srv", "--config", str(config(home, entry)), "--json")
    assert json.loads(edited)["packageCopy"] == copies[0]
    _, plain, _ = cli("sandbox", "show", "srv", "--config", str(config(home, {"command": "node"})))
    assert prefix not in plain


def test_show_of_a_projects_own_server_is_narrowed_until_approved(
    stateDir: Path, home: Path, probed: dict[str, Any], cli: Cli
) -> None:
    """A repository's entry is shown as the gateway serves it: in its
    workspace, its widenings ignored and its child shown nothing outside
    the workspace, until the user approves it."""
    from mcpgateway.config.origins import entryDigest
    from mcpgateway.config.sandboxapprovals import SandboxApproval, approve

    outside = home / "notes"
    outside.mkdir()
    wide = {"command": "/usr/bin/node", "args": [str(outside)], "sandbox": {"network": "host"}}
    clone = adoptedClone(home, stateDir, {"tool": wide})
    code, out, err = cli("sandbox", "show", "tool", "--workspace", clone, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["profile"]["network"]["mode"] != "host"  # narrowed
    shown = [*document["layout"]["readOnly"], *document["layout"]["writable"]]
    assert clone in document["layout"]["writable"] and str(outside) not in shown
    assert any(
        str(outside) in line and f"mcpgateway sandbox approve tool --workspace {clone}" in line
        for line in document["layout"]["refused"]
    )
    approve(
        stateDir,
        SandboxApproval("tool", clone, f"{clone}/.mcp.json", entryDigest(wide), ("network",)),
    )
    code, out, _ = cli("sandbox", "show", "tool", "--workspace", clone, "--json")
    assert code == 0 and json.loads(out)["profile"]["network"]["mode"] == "host"
    code, _, err = cli("sandbox", "show", "nope", "--workspace", clone)
    assert code == 1 and f"no server 'nope' of the project {clone}" in err
    assert "`mcpgateway start`" in err  # no gateway runs here
    # The user's own server, asked for as a project's: shown where to look instead.
    users = str(config(home, {"command": "node"}))
    code, _, err = cli("sandbox", "show", "srv", "--workspace", clone, "--config", users)
    assert code == 1 and "server 'srv' is not of the project" in err
    assert "mcpgateway sandbox show srv)" in err
