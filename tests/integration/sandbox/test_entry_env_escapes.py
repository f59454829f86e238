"""What a repository's entry sets in its C{env} reaches its confined child,
and never widens the sandbox around it (docs/guide/sandbox.md), with a real
gateway, a fake home, under bubblewrap and under Landlock:

 - the variables the dynamic loader reads (C{LD_DEBUG} here: each process
   that starts with it says which program it is) take effect in the
   confined child alone, never in the launcher's Python or in bubblewrap,
   which run on the host unconfined (a repository's C{LD_PRELOAD} would
   run its library there with the user's powers);
 - C{"HOME": "/nonexistent"} does not move the home the sandbox protects:
   a program of C{~/bin} named in the entry shows the child C{~/bin}, never
   the whole home and its credentials.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration import sandboxkit
from tests.integration.gateway import RunningGateway
from tests.support.integration.scopes import BASE_PYTHON, keyOf

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]
MECHANISMS = ("bubblewrap", "landlock")


def confinedBy(mechanism: str) -> None:
    """Skip, saying why, where C{mechanism} cannot confine here (CI has both)."""
    if mechanism == "bubblewrap":
        sandboxkit.bwrapOrSkip()
    else:
        from mcpgateway.sandbox.probe import landlockAbi

        version, why = landlockAbi()
        if version < 1:
            pytest.skip(f"Landlock is not available here: {why}")


def projectGateway(
    start: Starter, home: Path, mechanism: str, servers: dict[str, object]
) -> tuple[RunningGateway, Path]:
    """A gateway serving a cloned repository's C{servers} (its project's
    entries in C{~/.claude.json}), confined by C{mechanism}."""
    repo = home / "cloned"
    repo.mkdir(exist_ok=True)
    config = home / ".claude.json"
    config.write_text(json.dumps({"projects": {str(repo): {"mcpServers": servers}}}))
    return start("--config", str(config), "--sandbox", mechanism), repo


def loadedBy(text: str) -> set[str]:
    """The programs the log shows the dynamic loader at work for (C{LD_DEBUG=files})."""
    out = set()
    for line in text.splitlines():
        if "needed by " in line:
            out.add(line.split("needed by ", 1)[1].split(" [", 1)[0].strip())
    return out


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_an_entrys_loader_variables_reach_the_confined_child_alone(
    home: Path, start: Starter, mechanism: str
) -> None:
    confinedBy(mechanism)
    sandboxkit.fakeHome(home)
    server = {
        "command": BASE_PYTHON,
        "args": [str(sandboxkit.HOSTILE)],
        "env": {"LD_DEBUG": "files", "LD_BIND_NOW": "1"},
    }
    gateway, repo = projectGateway(start, home, mechanism, {"py": server})
    url = gateway.url(f"py~{keyOf(home, repo)}")
    seen = sandboxkit.toolCall(url, "read", {"path": "/proc/self/environ"})
    assert seen["ok"], seen
    environ = dict(item.split("=", 1) for item in seen["text"].split("\0") if "=" in item)
    assert environ.get("LD_DEBUG") == "files" and environ.get("LD_BIND_NOW") == "1", environ
    assert not any(name.startswith("MCPGATEWAY_LOADER_") for name in environ), environ
    loaded = loadedBy(gateway.text())
    assert BASE_PYTHON in loaded, sorted(loaded)  # the child: as its entry asks
    outside = {program for program in loaded if program.endswith("bwrap")}
    outside |= {program for program in loaded if program == sys.executable}
    assert outside == set(), sorted(loaded)  # never bubblewrap, never the launcher's Python


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_an_entrys_home_never_moves_the_home_the_sandbox_protects(
    home: Path, start: Starter, mechanism: str
) -> None:
    confinedBy(mechanism)
    sandboxkit.fakeHome(home)
    (home / "Documents").mkdir()
    (home / "Documents" / "taxes.txt").write_text("private")
    tool = home / "bin" / "mytool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho\n")
    tool.chmod(0o755)
    script = f"exec {BASE_PYTHON} {sandboxkit.HOSTILE} {tool}"
    server = {"command": "/bin/sh", "args": ["-c", script], "env": {"HOME": "/nonexistent"}}
    gateway, repo = projectGateway(start, home, mechanism, {"py": server})
    url = gateway.url(f"py~{keyOf(home, repo)}")
    for secret in (".aws/credentials", ".bash_history", "Documents/taxes.txt", ".ssh/id_rsa"):
        seen = sandboxkit.toolCall(url, "read", {"path": str(home / secret)})
        assert not seen["ok"], (secret, seen)
    seen = sandboxkit.toolCall(url, "read", {"path": str(tool)})  # the program it names
    assert seen["ok"] and "echo" in seen["text"], seen
    environ = sandboxkit.toolCall(url, "read", {"path": "/proc/self/environ"})
    assert "HOME=/nonexistent" in environ["text"].split("\0")  # its entry's HOME, its own
