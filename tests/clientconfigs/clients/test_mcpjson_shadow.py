"""Files under version control: a known project's C{.mcp.json}
is never written. Each stdio server of it the user approved gets a
local-scope entry of the same name in C{~/.claude.json}
(C{projects.<path>.mcpServers.<name>}, which Claude Code prefers to the
project scope) pointing at the workspace route, where the gateway serves the
C{.mcp.json} original; restore removes exactly what was added.

Every file lives under C{tmp_path} (the fake home, also C{$HOME})."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.adopted import AdoptedClaudeConfig
from mcpgateway.clientconfigs.claude import ClaudeConfig
from mcpgateway.config.workspaces import WorkspaceKeys
from tests.clientconfigs.adoptkit import claudeBackupView, load

ENV: dict[str, str] = {"PATH": ""}
SECRET = bytes(range(32))
KEYS = WorkspaceKeys(SECRET)


def stdio(tag: str) -> dict[str, Any]:
    return {"type": "stdio", "command": "npx", "args": ["-y", f"server-{tag}"], "env": {}}


def http(url: str) -> dict[str, str]:
    return {"type": "http", "url": url}


def urlFor(name: str, workspace: str | None) -> str:
    route = name if workspace is None else f"{name}~{KEYS.key(workspace)}"
    return f"http://127.0.0.1:9100/{route}/mcp"


def write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def project(home: Path, name: str, servers: dict[str, Any]) -> tuple[str, Path]:
    """A project directory with a C{.mcp.json} holding C{servers}."""
    directory = home / "work" / name
    mcpJson = write(directory / ".mcp.json", {"mcpServers": servers})
    return str(directory), mcpJson


def config(home: Path, stateDir: Path) -> ClaudeConfig:
    return ClaudeConfig(home / ".claude.json", stateDir, home=home, environ=ENV, now=lambda: 1.0)


def test_approvedServersAreShadowed(home: Path, stateDir: Path) -> None:
    """C{enableAllProjectMcpServers} approves every server; the shadow
    points at the workspace route, the gateway is given the C{.mcp.json}
    original there, and C{.mcp.json} is never written."""
    one, mcpJson = project(home, "one", {"db": stdio("db"), "web": http("https://x/mcp")})
    path = write(
        home / ".claude.json",
        {
            "numStartups": 1,
            "projects": {one: {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}},
        },
    )
    before, mcpBefore = path.read_bytes(), mcpJson.read_bytes()
    claude = config(home, stateDir)
    report = claude.adopt(urlFor)

    assert report.adopted == [f"db (local scope of project {one}, shadowing its .mcp.json)"]
    data = load(path)
    assert data["projects"][one]["mcpServers"] == {"db": http(urlFor("db", one))}
    assert "~" in urlFor("db", one)
    served = claude.servedDocument()
    assert served["projects"][one]["mcpServers"] == {"db": stdio("db")}
    assert mcpJson.read_bytes() == mcpBefore
    assert claude.adopt(urlFor).changed is False  # idempotent

    backup = claudeBackupView(stateDir / "config-backup.json")
    block = backup["projects"][one]
    assert block["mcpServers"]["db"] == {"url": urlFor("db", one), "original": None}
    assert block["createdBlock"] is True

    claude.restore()
    assert path.read_bytes() == before
    assert mcpJson.read_bytes() == mcpBefore


def test_onlyApprovedNamesAreShadowed(home: Path, stateDir: Path) -> None:
    """C{enabledMcpjsonServers} approves by name; C{disabledMcpjsonServers}
    wins; a project without approval, or unknown to Claude Code, gets none."""
    servers = {"a": stdio("a"), "b": stdio("b"), "c": stdio("c")}
    one, _ = project(home, "one", servers)
    two, _ = project(home, "two", servers)
    three, _ = project(home, "three", servers)
    project(home, "unknown", servers)
    path = write(
        home / ".claude.json",
        {
            "projects": {
                one: {
                    "hasTrustDialogAccepted": True,
                    "enabledMcpjsonServers": ["a", "b"],
                    "disabledMcpjsonServers": ["b"],
                },
                two: {
                    "hasTrustDialogAccepted": True,
                    "enableAllProjectMcpServers": True,
                    "disabledMcpjsonServers": ["c"],
                },
                three: {"enableAllProjectMcpServers": False, "enabledMcpjsonServers": []},
            }
        },
    )
    before = path.read_bytes()
    claude = config(home, stateDir)
    claude.adopt(urlFor)
    projects = load(path)["projects"]
    assert projects[one]["mcpServers"] == {"a": http(urlFor("a", one))}
    assert projects[two]["mcpServers"] == {
        "a": http(urlFor("a", two)),
        "b": http(urlFor("b", two)),
    }
    assert "mcpServers" not in projects[three]
    assert len(projects) == 3
    claude.restore()
    assert path.read_bytes() == before


def test_theUsersLocalEntryWins(home: Path, stateDir: Path) -> None:
    """A local entry of that name is the user's: never replaced (a stdio
    one is adopted as a local entry, an http one left alone); a shadow added
    to an existing block leaves the block on restore."""
    one, _ = project(home, "one", {"db": stdio("db"), "kv": stdio("kv"), "q": stdio("q")})
    mine = http("https://mine.example/mcp")
    path = write(
        home / ".claude.json",
        {
            "projects": {
                one: {
                    "hasTrustDialogAccepted": True,
                    "enableAllProjectMcpServers": True,
                    "mcpServers": {"db": mine, "kv": stdio("local-kv")},
                }
            }
        },
    )
    before = path.read_bytes()
    claude = config(home, stateDir)
    claude.adopt(urlFor)
    block = load(path)["projects"][one]["mcpServers"]
    assert block["db"] == mine
    assert block["kv"] == http(urlFor("kv", one))
    assert block["q"] == http(urlFor("q", one))
    served = claude.servedDocument()["projects"][one]["mcpServers"]
    assert served == {"db": mine, "kv": stdio("local-kv"), "q": stdio("q")}
    assert "createdBlock" not in claudeBackupView(stateDir / "config-backup.json")["projects"][one]
    claude.restore()
    assert path.read_bytes() == before


def test_aShadowTheUserRemovesIsNotMadeAgain(home: Path, stateDir: Path) -> None:
    one, _ = project(home, "one", {"db": stdio("db"), "kv": stdio("kv")})
    path = write(
        home / ".claude.json",
        {"projects": {one: {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}}},
    )
    claude = config(home, stateDir)
    claude.adopt(urlFor)
    data = load(path)
    del data["projects"][one]["mcpServers"]["db"]  # claude mcp remove db -s local
    write(path, data)
    report = claude.sync(urlFor)
    assert report.removed == [f"db (local scope of project {one}, shadowing its .mcp.json)"]
    assert "db" not in load(path)["projects"][one]["mcpServers"]
    claude.restore()
    assert load(path)["projects"][one] == {
        "hasTrustDialogAccepted": True,
        "enableAllProjectMcpServers": True,
    }


def test_aServerNoLongerApprovedLosesItsShadow(home: Path, stateDir: Path) -> None:
    one, mcpJson = project(home, "one", {"db": stdio("db"), "kv": stdio("kv")})
    path = write(
        home / ".claude.json",
        {"projects": {one: {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}}},
    )
    before = path.read_bytes()
    claude = config(home, stateDir)
    claude.adopt(urlFor)
    data = load(path)
    data["projects"][one]["disabledMcpjsonServers"] = ["db"]
    write(path, data)
    report = claude.sync(urlFor)
    assert report.removed == [f"db (local scope of project {one}, shadowing its .mcp.json)"]
    assert load(path)["projects"][one]["mcpServers"] == {"kv": http(urlFor("kv", one))}

    write(mcpJson, {"mcpServers": {}})  # and the other one leaves .mcp.json
    claude.sync(urlFor)
    assert "mcpServers" not in load(path)["projects"][one]  # the created block goes too
    claude.restore()
    data = load(path)
    del data["projects"][one]["disabledMcpjsonServers"]
    data.pop("_mcp_gateway_ts")  # the backup emptied before the restore: Claude Code reloads
    assert json.dumps(data, indent=2).encode() == before


def test_anUnreadableMcpJsonIsLeftAlone(home: Path, stateDir: Path) -> None:
    one = home / "work" / "one"
    one.mkdir(parents=True)
    (one / ".mcp.json").write_text("{not json", encoding="utf-8")
    path = write(
        home / ".claude.json",
        {
            "projects": {
                str(one): {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}
            }
        },
    )
    before = path.read_bytes()
    report = config(home, stateDir).adopt(urlFor)
    assert path.read_bytes() == before
    assert any(".mcp.json" in note and "not shadowed" in note for note in report.notes)
    assert (one / ".mcp.json").read_text() == "{not json"


def test_aStaleShadowWrittenBackIsRemovedAtTheNextStart(home: Path, stateDir: Path) -> None:
    """Claude Code writes back a copy it read while the gateway served the
    file: the shadow in it points at a stopped gateway; the next start's
    recovery removes it (from the kept backup), created block included."""
    one, _ = project(home, "one", {"db": stdio("db")})
    path = write(
        home / ".claude.json",
        {"projects": {one: {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}}},
    )
    before = path.read_bytes()
    source = AdoptedClaudeConfig(path, stateDir, "127.0.0.1", ENV, keys=KEYS)
    source.load()
    source.listening(9100)
    stale = path.read_bytes()
    source.stopping()
    assert path.read_bytes() == before
    path.write_bytes(stale)

    again = AdoptedClaudeConfig(path, stateDir, "127.0.0.1", ENV, keys=KEYS)
    notes = again.recover()
    assert path.read_bytes() == before
    assert notes != []


def test_loadServesTheOriginalAtTheWorkspaceRoute(home: Path, stateDir: Path) -> None:
    one, _ = project(home, "one", {"db": stdio("db")})
    path = write(
        home / ".claude.json",
        {"projects": {one: {"hasTrustDialogAccepted": True, "enableAllProjectMcpServers": True}}},
    )
    source = AdoptedClaudeConfig(path, stateDir, "127.0.0.1", ENV, keys=KEYS)
    source.load()
    assert source.listening(9100) == [
        f"adopted 1 entry: db (local scope of project {one}, shadowing its .mcp.json)"
    ]
    loaded = source.load()
    [entry] = [p for p in loaded.projects if p.name == "db"]
    assert entry.workspace == one and entry.entry == stdio("db")
    assert source.servedRoutes() == {("db", one): stdio("db")}


# -- the property: adopt then restore is the identity ---------------------------------

NAMES = st.sampled_from(["db", "fs", "kv"])
ENTRY = st.one_of(
    st.builds(stdio, st.sampled_from(["x", "y"])),
    st.just(http("https://example.com/mcp")),
    st.just({"command": "c", "args": "not-a-list"}),
)
SERVERS = st.dictionaries(NAMES, ENTRY, max_size=3)
BLOCK = st.fixed_dictionaries(
    {},
    optional={
        "allowedTools": st.just([]),
        "hasTrustDialogAccepted": st.booleans(),
        "mcpServers": SERVERS,
        "enableAllProjectMcpServers": st.booleans(),
        "enabledMcpjsonServers": st.lists(NAMES, max_size=3),
        "disabledMcpjsonServers": st.lists(NAMES, max_size=2),
    },
)
PROJECTS = st.dictionaries(st.integers(0, 2), st.tuples(BLOCK, st.none() | SERVERS), max_size=3)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    user=st.none() | SERVERS,
    projects=PROJECTS,
    indent=st.sampled_from([2, 4, None]),
)
def test_adoptThenRestoreIsTheIdentity(
    user: dict[str, Any] | None,
    projects: dict[int, tuple[dict[str, Any], dict[str, Any] | None]],
    indent: int | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        stateDir = home / "state"
        stateDir.mkdir()
        doc: dict[str, Any] = {"numStartups": 2}
        if user is not None:
            doc["mcpServers"] = user
        doc["projects"] = {}
        mcpJsons: dict[Path, bytes] = {}
        for index, (block, mcpJson) in projects.items():
            directory = home / f"p{index}"
            directory.mkdir()
            doc["projects"][str(directory)] = block
            if mcpJson is not None:
                file = write(directory / ".mcp.json", {"mcpServers": mcpJson})
                mcpJsons[file] = file.read_bytes()
        path = home / ".claude.json"
        before = json.dumps(doc, indent=indent).encode("utf-8")
        path.write_bytes(before)
        claude = ClaudeConfig(path, stateDir, home=home, environ=ENV, now=lambda: 1.0)
        claude.adopt(urlFor)

        after = load(path)
        for index, (block, mcpJson) in projects.items():
            where = str(home / f"p{index}")
            now = after["projects"][where].get("mcpServers", {})
            for name, entry in (mcpJson or {}).items():
                approved = (
                    block.get("hasTrustDialogAccepted") is True  # a folder not trusted: none
                    and name not in block.get("disabledMcpjsonServers", [])
                    and (
                        block.get("enableAllProjectMcpServers") is True
                        or name in block.get("enabledMcpjsonServers", [])
                    )
                )
                local = block.get("mcpServers", {})
                if name in local:
                    continue  # the user's local entry: as adoption treats any local entry
                if approved and entry.get("type") == "stdio":
                    shared = (user or {}).get(name) == entry  # one child: the global route
                    assert now[name] == http(urlFor(name, None if shared else where))
                else:
                    assert name not in now
        assert claude.adopt(urlFor).changed is False
        claude.restore()
        assert path.read_bytes() == before
        for file, raw in mcpJsons.items():
            assert file.read_bytes() == raw
        assert os.listdir(stateDir) in ([], ["config-backup.json.1"])


def test_approvals_kept_in_the_projects_local_settings_are_read(home: Path, stateDir: Path) -> None:
    """Claude Code keeps a project's approvals in its
    C{.claude/settings.local.json} now (C{~/.claude.json} held them
    before, still read): the servers it names are shadowed, the file it
    disables are not, and the file is watched."""
    servers = {"a": stdio("a"), "b": stdio("b"), "c": stdio("c")}
    one, _ = project(home, "one", servers)
    two, _ = project(home, "two", servers)
    local = write(
        Path(one) / ".claude" / "settings.local.json", {"enabledMcpjsonServers": ["a", "b"]}
    )
    write(
        Path(two) / ".claude" / "settings.local.json",
        {"enableAllProjectMcpServers": True, "disabledMcpjsonServers": ["c"]},
    )
    trusted = {"hasTrustDialogAccepted": True}
    path = write(
        home / ".claude.json",
        {
            "projects": {
                one: {**trusted, "disabledMcpjsonServers": ["b"]},
                two: {**trusted, "allowedTools": []},
            }
        },
    )
    before = path.read_bytes()
    claude = config(home, stateDir)
    claude.adopt(urlFor)
    projects = load(path)["projects"]
    assert projects[one]["mcpServers"] == {"a": http(urlFor("a", one))}
    assert projects[two]["mcpServers"] == {
        "a": http(urlFor("a", two)),
        "b": http(urlFor("b", two)),
    }
    assert local in claude.shadowedFiles
    claude.restore()
    assert path.read_bytes() == before
