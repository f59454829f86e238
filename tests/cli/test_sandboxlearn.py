"""C{mcpgateway sandbox suggest NAME}: the profile a learning server's
records suggest, for a person and as the bare object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.sandbox import learnrun
from tests.cli.support import Cli


def learned(home: Path, stateDir: Path, trace: str, hosts: str = "") -> Path:
    """A config with the learning server C{srv}, and its records."""
    entry = {"command": "/usr/bin/node", "args": ["/usr/lib/srv.js"], "sandbox": "learn"}
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"srv": entry}}))
    directory = Path(learnrun.learnDir(str(stateDir), "srv"))
    directory.mkdir(parents=True)
    (directory / "trace-1").write_text(trace)
    if hosts:
        (directory / learnrun.HOSTS_FILE).write_text(hosts)
    return config


def line(path: Path, flags: str = "O_RDONLY", result: str = "3") -> str:
    return f'9 openat(AT_FDCWD</w>, "{path}", {flags}) = {result}\n'


def test_suggest_prints_the_profile_to_put_in_the_entry(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    (home / "reference").mkdir()
    (home / "notes").mkdir()
    trace = line(home / "reference" / "a.txt") + line(
        home / "notes" / "n.md", "O_WRONLY|O_CREAT", "-1 EROFS (Read-only file system)"
    )
    trace += line(home / ".ssh" / "id_rsa", result="-1 EACCES (Permission denied)")
    config = learned(home, stateDir, trace, "api.github.com 443 asked\n")
    code, out, _ = cli("sandbox", "suggest", "srv", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("server srv: learned from 1 start(s) (paths by strace")
    assert 'in place of "sandbox": "learn":' in lines[1]
    start = lines.index('  "sandbox": {')
    end = lines.index("  }", start)
    body = json.loads("\n".join(lines[start : end + 1]).split(":", 1)[1])
    assert body == {
        "filesystem": {"allowRead": ["~/reference"], "allowWrite": ["~/notes"]},
        "network": {"allowedDomains": ["api.github.com"]},
    }
    assert "denied, kept denied: ~/.ssh (its deny list: never suggested)" in lines
    code, out, _ = cli("sandbox", "suggest", "srv", "--config", str(config), "--json")
    assert code == 0 and json.loads(out) == body


def test_suggest_says_when_paths_were_not_recorded(stateDir: Path, home: Path, cli: Cli) -> None:
    config = learned(home, stateDir, "", "pypi.org 443 asked\n")
    Path(learnrun.learnDir(str(stateDir), "srv"), learnrun.NO_STRACE).write_text("")
    code, out, _ = cli("sandbox", "suggest", "srv", "--config", str(config))
    assert code == 0
    assert "paths NOT recorded: strace is not installed" in out
    assert "note: paths were not recorded: strace is not installed" in out


def test_suggest_of_a_server_that_never_learned(home: Path, cli: Cli) -> None:
    config = home / "servers.json"
    entry: dict[str, Any] = {"command": "/usr/bin/node"}
    config.write_text(json.dumps({"mcpServers": {"srv": entry}}))
    code, _, err = cli("sandbox", "suggest", "srv", "--config", str(config))
    assert code != 0 and 'has not learned yet: give its entry "sandbox": "learn"' in err


def test_a_server_that_used_nothing_more_needs_the_default_profile(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    config = learned(home, stateDir, line(Path("/usr/lib/srv.js")))
    code, out, _ = cli("sandbox", "suggest", "srv", "--config", str(config))
    assert code == 0 and 'it used nothing beyond the default profile: "sandbox": true' in out
    code, out, _ = cli("sandbox", "suggest", "srv", "--config", str(config), "--json")
    assert json.loads(out) == {}
