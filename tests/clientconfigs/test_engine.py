"""The adoption engine: backup, rewrite, sync, restore, crash recovery,
unparsable files, policies, and adopt-then-restore identity on generated
documents."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs import jsonc
from mcpgateway.clientconfigs.backups import backupPathFor, backupPaths, readBackup
from mcpgateway.clientconfigs.clients import ADAPTERS, select
from mcpgateway.clientconfigs.clients.base import Host
from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.clientconfigs.clients.mcpservers import Cursor, Gemini, Windsurf
from mcpgateway.clientconfigs.clients.yamlclients import Goose
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.restoring import restoreAll
from tests.clientconfigs.adoptkit import engine, makeHost, otherPort, urlFor, write

CURSOR = {
    "mcpServers": {
        "fs": {"command": "npx", "args": ["-y", "server-filesystem", "/tmp"]},
        "mem": {"command": "mem-server"},
        "remote": {"url": "https://example.com/mcp"},
    }
}


def _cursor(tmp: Path, data: dict[str, Any] = CURSOR) -> tuple[Host, Path]:
    host = makeHost(tmp)
    return host, write(host.home / ".cursor/mcp.json", json.dumps(data, indent=2) + "\n")


def test_backupIsWrittenBeforeTheFileAndHoldsTheOriginals(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    backup = readBackup(backupPathFor(gateway.stateDir, "cursor", path))
    assert backup is not None
    record = backup.record("fs")
    assert record is not None
    assert record.original == CURSOR["mcpServers"]["fs"]
    assert record.written == {"url": "http://127.0.0.1:9100/fs/mcp"}
    assert backup.undo[0].before == json.dumps(CURSOR, indent=2) + "\n"
    assert (backupPathFor(gateway.stateDir, "cursor", path).stat().st_mode & 0o777) == 0o600


def test_crashRecoveryRestoresFirst(tmp_path: Path) -> None:
    """A gateway adopted the file and died (no restore): the next one's
    recover() puts the file back before adopting it again."""
    host, path = _cursor(tmp_path)
    original = path.read_bytes()
    engine(tmp_path, [Cursor()], host).adopt(urlFor)
    assert path.read_bytes() != original  # adopted, then the process is gone

    fresh = engine(tmp_path, [Cursor()], host)
    recovered = fresh.recover()

    assert recovered.files[0].restored == ["fs", "mem"]
    assert path.read_bytes() == original
    assert backupPaths(fresh.stateDir) == []
    fresh.adopt(otherPort)
    assert json.loads(path.read_text())["mcpServers"]["fs"] == {
        "url": "http://127.0.0.1:9200/fs/mcp"
    }
    fresh.restore()
    assert path.read_bytes() == original


def test_restoreByHandNeedsNoAdapter(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    original = path.read_bytes()
    engine(tmp_path, [Cursor()], host).adopt(urlFor)
    report = restoreAll(tmp_path / "state")
    assert report.files[0].restored == ["fs", "mem"]
    assert path.read_bytes() == original
    kept = list((tmp_path / "state" / "client-backups").glob("*.json.1"))
    assert len(kept) == 1


def test_crashBetweenBackupAndWrite(tmp_path: Path) -> None:
    """The backup was written, the file never was: restore leaves the file
    as it is, and the next adoption adopts the entries again."""
    host, path = _cursor(tmp_path)
    original = path.read_bytes()
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    path.write_bytes(original)  # as if the rename never happened
    path.chmod(0o644)
    report = gateway.adopt(urlFor)
    assert report.files[0].adopted == ["fs", "mem"]
    assert report.files[0].removed == []
    gateway.restore()
    assert path.read_bytes() == original


def test_unparsableFileUntouchedWithOneWarning(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".cursor/mcp.json", '{"mcpServers": {"fs": {"command": "x",}}}')
    before = path.read_bytes()
    gateway = engine(tmp_path, [Cursor()], host)
    first = gateway.adopt(urlFor)
    second = gateway.sync(urlFor)
    assert path.read_bytes() == before
    assert len(first.warnings) == 1 and str(path) in first.warnings[0]
    assert "line 1" in first.warnings[0]
    assert second.warnings == []
    path.write_text('{"mcpServers": {"fs": {"command": "x"}}}')
    assert gateway.sync(urlFor).files[0].adopted == ["fs"]


def test_syncAdoptsNewDropsRemovedAndTheUsersEditWins(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    data = json.loads(path.read_text())
    data["mcpServers"]["new"] = {"command": "new-server"}
    del data["mcpServers"]["mem"]
    data["mcpServers"]["fs"] = {"url": "https://mine.example/mcp"}
    path.write_text(json.dumps(data))

    report = gateway.sync(urlFor)

    assert report.files[0].adopted == ["new"]
    assert sorted(report.files[0].removed) == ["fs", "mem"]
    after = json.loads(path.read_text())["mcpServers"]
    assert after["fs"] == {"url": "https://mine.example/mcp"}
    assert after["new"] == {"url": "http://127.0.0.1:9100/new/mcp"}
    assert sorted(gateway.servedDocument()["mcpServers"]) == ["new"]

    gateway.restore()
    final = json.loads(path.read_text())["mcpServers"]
    assert final["new"] == {"command": "new-server"}
    assert final["fs"] == {"url": "https://mine.example/mcp"}
    assert "mem" not in final


def test_restoreKeepsAnotherWritersChanges(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    data = json.loads(path.read_text())
    data["other"] = True
    path.write_text(json.dumps(data, indent=2))
    gateway.restore()
    restored = json.loads(path.read_text())
    assert restored["other"] is True
    assert restored["mcpServers"] == CURSOR["mcpServers"]


def test_keysAddedToAnAdoptedEntryStayOnTheRestoredOriginal(tmp_path: Path) -> None:
    """A client (or the user through it) added keys to an entry the gateway
    wrote (Cursor's toggle writes C{"disabled": true}): the entry still
    points at the gateway, so its original comes back at restore, and the
    added keys stay on it."""
    host, path = _cursor(tmp_path)
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    data = json.loads(path.read_text())
    data["mcpServers"]["fs"] = {"url": "http://127.0.0.1:9100/fs/mcp", "disabled": True}
    path.write_text(json.dumps(data))
    assert gateway.sync(urlFor).files[0].removed == []  # still the gateway's
    report = gateway.restore()
    assert "fs" in report.files[0].restored
    assert json.loads(path.read_text())["mcpServers"]["fs"] == {
        "command": "npx",
        "args": ["-y", "server-filesystem", "/tmp"],
        "disabled": True,
    }


def test_userChangeToAnAdoptedEntryIsKeptAtRestore(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    data = json.loads(path.read_text())
    data["mcpServers"]["fs"] = {"url": "https://elsewhere.example/mcp"}
    path.write_text(json.dumps(data))
    report = gateway.restore()
    assert report.files[0].kept == ["fs"]
    assert json.loads(path.read_text())["mcpServers"]["fs"] == {
        "url": "https://elsewhere.example/mcp"
    }


def test_newPortRepointsAdoptedEntries(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    original = path.read_bytes()
    gateway = engine(tmp_path, [Cursor()], host)
    gateway.adopt(urlFor)
    report = gateway.adopt(otherPort)
    assert any("now at http://127.0.0.1:9200/fs/mcp" in n for n in report.files[0].notes)
    assert json.loads(path.read_text())["mcpServers"]["mem"] == {
        "url": "http://127.0.0.1:9200/mem/mcp"
    }
    gateway.restore()
    assert path.read_bytes() == original


def test_sameNameDifferentServerAcrossClients(tmp_path: Path) -> None:
    host, cursor = _cursor(tmp_path)
    windsurf = write(
        host.home / ".codeium/windsurf/mcp_config.json",
        json.dumps(
            {"mcpServers": {"fs": {"command": "other-fs"}, "mem": {"command": "mem-server"}}}
        ),
    )
    report = engine(tmp_path, [Cursor(), Windsurf()], host).adopt(urlFor)
    byClient = {f.client: f for f in report.files}
    assert byClient["windsurf"].adopted == ["mem"]  # the same server: one route
    assert "cursor" in dict(byClient["windsurf"].skipped)["fs"]
    assert json.loads(windsurf.read_text())["mcpServers"]["fs"] == {"command": "other-fs"}
    assert json.loads(cursor.read_text())["mcpServers"]["fs"]["url"].endswith("/fs/mcp")


def test_theSameServerWrittenTwoWaysIsOneRoute(tmp_path: Path) -> None:
    """Two clients name the same server with their own variable syntax
    (Cursor's C{${userHome}}, Windsurf's plain path): once expanded it is the
    same server, so both are adopted at its one route (not refused as a
    different server of that name)."""
    host = makeHost(tmp_path)
    home = str(host.home)
    cursor = write(
        host.home / ".cursor/mcp.json",
        json.dumps({"mcpServers": {"fs": {"command": "fs-server", "args": ["${userHome}/x"]}}}),
    )
    windsurf = write(
        host.home / ".codeium/windsurf/mcp_config.json",
        json.dumps({"mcpServers": {"fs": {"command": "fs-server", "args": [f"{home}/x"]}}}),
    )
    report = engine(tmp_path, [Cursor(), Windsurf()], host).adopt(urlFor)
    byClient = {f.client: f for f in report.files}
    assert byClient["cursor"].adopted == ["fs"]
    assert byClient["windsurf"].adopted == ["fs"]
    assert json.loads(cursor.read_text())["mcpServers"]["fs"]["url"].endswith("/fs/mcp")
    assert json.loads(windsurf.read_text())["mcpServers"]["fs"]["serverUrl"].endswith("/fs/mcp")


def test_anEntryNotAdoptedIsToldOnce(tmp_path: Path) -> None:
    """The file watcher syncs often: an entry that cannot be adopted is in
    the messages once, and again only when the reason changes."""
    host, path = _cursor(
        tmp_path, {"mcpServers": {"a": {"command": "x", "env": {"T": "${env:NOPE}"}}}}
    )
    gateway = engine(tmp_path, [Cursor()], host)
    first = gateway.adopt(urlFor).messages()
    assert any("a not adopted" in m for m in first)
    again = gateway.sync(urlFor)
    assert "a" in dict(again.files[0].skipped)  # still reported to the CLI
    assert not any("a not adopted" in m for m in again.messages())
    path.write_text(json.dumps({"mcpServers": {"a": {"command": 3}}}))
    assert any("a not adopted" in m for m in gateway.sync(urlFor).messages())


def test_unsetVariableIsNotAdopted(tmp_path: Path) -> None:
    host, _ = _cursor(
        tmp_path, {"mcpServers": {"a": {"command": "x", "env": {"T": "${env:NOPE}"}}}}
    )
    report = engine(tmp_path, [Cursor()], host).adopt(urlFor)
    assert "NOPE" in dict(report.files[0].skipped)["a"]


def test_concurrentWriterWinsTheRace(tmp_path: Path) -> None:
    """A client writes its file between the engine's read and rename: the
    engine starts over on the client's content, which is kept."""
    host, path = _cursor(tmp_path)
    gateway = engine(tmp_path, [Cursor()], host)
    adapter = gateway.adapters[0]
    calls: list[str] = []
    original = adapter.written

    def racing(name: str, url: str, entry: dict[str, Any], argv: Sequence[str]) -> dict[str, Any]:
        if not calls:
            data = json.loads(path.read_text())
            data["written-by-client"] = 1
            path.write_text(json.dumps(data, indent=2))
        calls.append(name)
        return original(name, url, entry, argv)

    adapter.written = racing  # type: ignore[method-assign,assignment]
    try:
        gateway.adopt(urlFor)
    finally:
        del adapter.written
    data = json.loads(path.read_text())
    assert data["written-by-client"] == 1
    assert data["mcpServers"]["fs"] == {"url": "http://127.0.0.1:9100/fs/mcp"}


def test_symlinkedConfigStaysASymlink(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    target = write(tmp_path / "dotfiles" / "mcp.json", json.dumps(CURSOR))
    link = host.home / ".cursor" / "mcp.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    engine(tmp_path, [Cursor()], host).adopt(urlFor)
    assert link.is_symlink()
    assert "127.0.0.1" in target.read_text()


def test_selectAndAdapterIds() -> None:
    assert [a.id for a in select("cursor,codex")] == ["cursor", "codex"]
    assert select("none") == [] and len(select("all")) == len(ADAPTERS)
    assert len({a.id for a in ADAPTERS}) == len(ADAPTERS)
    with pytest.raises(KeyError):
        select("nope")


def test_watchedPaths(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    gateway = AdoptionEngine(tmp_path / "state", [Cursor(), Codex()], host, bridgeArgv=["x"])
    assert gateway.watchedPaths() == [path]


# -- adopt then restore gives the same bytes, on generated documents -----------------

_names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
_words = st.text(alphabet="abcxyz-_/. é", min_size=0, max_size=8)
_servers = st.dictionaries(
    _names,
    st.one_of(
        st.fixed_dictionaries(
            {
                "command": st.sampled_from(["npx", "uvx", "/bin/srv"]),
                "args": st.lists(_words, max_size=3),
            }
        ),
        st.fixed_dictionaries({"url": st.just("https://example.com/mcp")}),
    ),
    min_size=1,
    max_size=4,
)
_comment = st.text(alphabet="abc xyz#:{}[],", max_size=12).map(lambda t: t.replace("*/", ""))
_PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _jsoncText(servers: dict[str, Any], comment: str, trailing: bool, indent: int) -> str:
    pad = " " * indent
    lines = [
        "{",
        f"{pad}// {comment}",
        f'{pad}"theme": "x", /* {comment} */',
        f'{pad}"mcpServers": {{',
    ]
    items = [f"{pad * 2}{json.dumps(n)}: {json.dumps(e)}" for n, e in servers.items()]
    lines.append(",\n".join(items) + ("," if trailing else ""))
    lines += [f"{pad}}}" + ("," if trailing else ""), "}"]
    return "\n".join(lines) + "\n"


@_PROPERTY
@given(servers=_servers, comment=_comment, trailing=st.booleans(), indent=st.sampled_from([2, 4]))
def test_propertyJsonc(
    tmp_path_factory: pytest.TempPathFactory,
    servers: dict[str, Any],
    comment: str,
    trailing: bool,
    indent: int,
) -> None:
    tmp = tmp_path_factory.mktemp("p")
    host = makeHost(tmp)
    text = _jsoncText(servers, comment, trailing, indent)
    path = write(host.home / ".gemini/settings.json", text)
    gateway = engine(tmp, [Gemini()], host)
    gateway.adopt(urlFor)
    adopted = jsonc.parse(path.read_text()).value["mcpServers"]
    for name, entry in servers.items():
        if "command" in entry:
            assert adopted[name] == {"url": f"http://127.0.0.1:9100/{name}/mcp", "type": "http"}
        else:
            assert adopted[name] == entry
    gateway.restore()
    assert path.read_text() == text


@_PROPERTY
@given(servers=_servers, comment=_comment, inline=st.booleans())
def test_propertyToml(
    tmp_path_factory: pytest.TempPathFactory, servers: dict[str, Any], comment: str, inline: bool
) -> None:
    tmp = tmp_path_factory.mktemp("p")
    host = makeHost(tmp)
    doc = tomlkit.document()
    doc.add(tomlkit.comment(comment.replace("\n", " ")))
    doc["model"] = "o3"
    table = tomlkit.table(is_super_table=not inline)
    for name, entry in servers.items():
        item: Any = tomlkit.inline_table() if inline else tomlkit.table()
        item.update(entry)
        table[name] = item
    doc["mcp_servers"] = table
    text = tomlkit.dumps(doc)
    path = write(host.home / ".codex/config.toml", text)
    gateway = engine(tmp, [Codex()], host)
    gateway.adopt(urlFor)
    adopted = tomlkit.parse(path.read_text()).unwrap()["mcp_servers"]
    for name, entry in servers.items():
        expected = {"url": f"http://127.0.0.1:9100/{name}/mcp"} if "command" in entry else entry
        assert adopted[name] == expected
    gateway.restore()
    assert path.read_text() == text


@_PROPERTY
@given(servers=_servers, comment=_comment, flow=st.booleans())
def test_propertyYaml(
    tmp_path_factory: pytest.TempPathFactory, servers: dict[str, Any], comment: str, flow: bool
) -> None:
    tmp = tmp_path_factory.mktemp("p")
    host = makeHost(tmp)
    lines = [f"# {comment}", "GOOSE_PROVIDER: openai", "extensions:"]
    for name, entry in servers.items():
        lines.append(f"  {name}:  # {comment}" if comment else f"  {name}:")
        if "command" in entry:
            lines += ["    type: stdio", f"    name: {name}", f"    cmd: {entry['command']}"]
            args = json.dumps(entry["args"], ensure_ascii=False)
            lines.append(f"    args: {args}" if flow else "    args:")
            if not flow:
                lines += [f"      - {json.dumps(a, ensure_ascii=False)}" for a in entry["args"]]
                if not entry["args"]:
                    lines[-1] = "    args: []"
        else:
            lines += ["    type: streamable_http", f"    uri: {entry['url']}"]
    text = "\n".join(lines) + "\n"
    path = write(host.home / ".config/goose/config.yaml", text)
    gateway = engine(tmp, [Goose()], host)
    gateway.adopt(urlFor)
    gateway.restore()
    assert path.read_text() == text


def test_everyBackupIsRestoredEvenForAClientNoLongerSelected(tmp_path: Path) -> None:
    host, path = _cursor(tmp_path)
    original = path.read_bytes()
    engine(tmp_path, [Cursor()], host).adopt(urlFor)
    engine(tmp_path, [], host).restore()
    assert path.read_bytes() == original
    assert not os.listdir(tmp_path / "state" / "client-backups") or all(
        name.endswith(".1") for name in os.listdir(tmp_path / "state" / "client-backups")
    )


def test_reservedRoutesOfClaudeCode(tmp_path: Path) -> None:
    """A name Claude Code serves differently at the same route is not adopted
    from another client; the same server is."""
    host, path = _cursor(tmp_path)
    reserved: dict[tuple[str, str | None], dict[str, Any]] = {
        ("fs", None): {"command": "claude-fs"},
        ("mem", None): {"command": "mem-server"},
    }
    report = engine(tmp_path, [Cursor()], host).adopt(urlFor, reserved)
    assert report.files[0].adopted == ["mem"]
    assert "Claude Code" in dict(report.files[0].skipped)["fs"]
    assert json.loads(path.read_text())["mcpServers"]["fs"] == CURSOR["mcpServers"]["fs"]
