# -*- test-case-name: tests.cli.test_configreport -*-
"""What C{start}, C{status} and C{doctor} say of the config a running
gateway serves: the client files it adopted (L{adoptedFiles}: a backup in
the state directory holding their entries), the files it did not adopt and
why, and the entries it does not serve and why (both from C{/health}'s
C{"config"}, L{mcpgateway.report.health.configLine}: the gateway's own
findings, which otherwise only its log has)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from mcpgateway.cli.checks import Check, DoctorContext
from mcpgateway.cli.elsewhere import shown
from mcpgateway.cli.output import plural
from mcpgateway.clientconfigs.backups import Backup, backupPaths, readBackup
from mcpgateway.clientconfigs.claude import readClaudeBackup
from mcpgateway.clientconfigs.clients import ADAPTERS
from mcpgateway.config.servers import ConfigError

CLAUDE_CODE = "claude-code"
"""The client id of the Claude config's backup."""
FIX_ENTRY = (
    "fix or remove the entry in its file (the gateway reads the file again within seconds):"
    " a stdio server needs a 'command', a remote one a 'url' (docs/guide/errors.md)"
)
FIX_FILE = (
    "make the file what the client reads (valid JSON, no comments where the client takes"
    " none) or lift the policy the message names: the gateway adopts it at its next change"
)


CLAUDE_CODE_FILES = (".claude.json", ".mcp.json")
"""The names of the files Claude Code reads: the user's config and a
project's. A file of their shape with another name is one the gateway was
given with C{--config}, which no client reads."""


def claudeLink(file: str) -> Path | None:
    """C{~/.claude.json} when it is a link to C{file} (kept in a dotfiles
    folder, say): the file Claude Code reads under its own name, which the
    Claude config's backup records by its target. C{None} otherwise."""
    link = Path.home() / ".claude.json"
    if not link.is_symlink():
        return None
    return link if os.path.realpath(link) == os.path.realpath(file) else None


def clientTitle(client: str, file: str) -> str:
    """Who reads C{file}, as the user knows it (C{Cursor}), from the id of
    the client whose adoption holds it: the Claude config's adoption holds
    Claude Code's files (C{~/.claude.json} a link's target too) and the
    gateway's own C{--config} file alike."""
    if client == CLAUDE_CODE:
        claudes = Path(file).name in CLAUDE_CODE_FILES or claudeLink(file) is not None
        return "Claude Code" if claudes else "--config"
    return next((adapter.title for adapter in ADAPTERS if adapter.id == client), client)


def adoptedLabel(adopted: dict[str, str]) -> str:
    """An adopted file as C{start} names it: C{~/.cursor/mcp.json (Cursor)};
    Claude Code's C{~/.claude.json} that links elsewhere by both names,
    C{~/.claude.json → ~/dotfiles/claude.json (Claude Code)}."""
    file, client = adopted["file"], adopted["client"]
    link = claudeLink(file) if client == CLAUDE_CODE else None
    where = _where(file) if link is None else f"{shown(link)} → {_where(file)}"
    return f"{where} ({clientTitle(client, file)})"


def adoptedBackups(stateDir: Path, claudePath: Path) -> list[Backup]:
    """The backups in the state directory that hold an entry, read with the
    engine's readers: the Claude config's (of C{claudePath}) first, then
    every other client's. The gateway writes one before it rewrites a
    file: what it adopted."""
    backups: list[Backup | None] = []
    with contextlib.suppress(ConfigError, OSError, ValueError):
        backups.append(readClaudeBackup(stateDir, claudePath))
    for path in backupPaths(stateDir):
        with contextlib.suppress(ConfigError):
            backups.append(readBackup(path))
    return [backup for backup in backups if backup is not None and backup.records]


def adoptedFiles(stateDir: Path, claudePath: Path) -> list[dict[str, str]]:
    """The client files the gateway adopted (L{adoptedBackups}), as
    C{{"file", "client"}}."""
    return [
        {"file": backup.configPath, "client": backup.client}
        for backup in adoptedBackups(stateDir, claudePath)
    ]


def _listed(
    health: dict[str, Any] | None, key: str, fields: tuple[str, ...]
) -> list[dict[str, str]]:
    """The objects of C{health["config"][key]} that have every string field
    of C{fields} (C{[]} from a gateway that shows none)."""
    config = health.get("config") if isinstance(health, dict) else None
    items = config.get(key) if isinstance(config, dict) else None
    if not isinstance(items, list):
        return []
    return [
        {name: item[name] for name in fields}
        for item in items
        if isinstance(item, dict) and all(isinstance(item.get(name), str) for name in fields)
    ]


def invalidEntries(health: dict[str, Any] | None) -> list[dict[str, str]]:
    """The entries the gateway does not serve: C{server}, C{file}, C{scope}, C{why}."""
    return _listed(health, "invalidEntries", ("server", "file", "scope", "why"))


def refusedFiles(health: dict[str, Any] | None) -> list[dict[str, str]]:
    """The client files the gateway did not adopt: C{file}, C{client}, C{why}."""
    return _listed(health, "refusedFiles", ("file", "client", "why"))


def ignoredEntries(health: dict[str, Any] | None) -> list[dict[str, str]]:
    """The adopted entries with keys added next to the gateway's URL, which
    have no effect: C{server}, C{file}, C{keys} (joined), C{fix}."""
    config = health.get("config") if isinstance(health, dict) else None
    items = config.get("ignoredKeys") if isinstance(config, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("keys"), list):
            continue
        fields = [item.get(name) for name in ("server", "file", "fix")]
        if all(isinstance(value, str) for value in fields):
            server, file, fix = (str(value) for value in fields)
            keys = ", ".join(str(key) for key in item["keys"])
            out.append({"server": server, "file": file, "keys": keys, "fix": fix})
    return out


def ignoredLine(entry: dict[str, str]) -> str:
    """C{~/.claude.json: env of 'x' next to the gateway's URL has no effect}."""
    return (
        f"{_where(entry['file'])}: {entry['keys']} of '{entry['server']}' next to the"
        " gateway's URL has no effect (an adopted entry is served from the gateway's backup)"
    )


def _where(file: str) -> str:
    """A file as the lines name it (C{~} for the home directory); what
    stands for no file (C{bundled demo}) as it is."""
    return shown(Path(file)) if file.startswith("/") else file


def invalidLine(entry: dict[str, str]) -> str:
    """C{server 'x' of ~/.claude.json (user scope) is not served: why}."""
    return (
        f"server '{entry['server']}' of {_where(entry['file'])} ({entry['scope']})"
        f" is not served: {entry['why']}"
    )


def refusedLine(refused: dict[str, str]) -> str:
    """C{~/.cursor/mcp.json (Cursor) is not adopted: why} (a why that
    begins with the file's path says C{it} instead)."""
    file, why = refused["file"], refused["why"]
    if why.startswith(f"{file} "):
        why = f"it {why[len(file) + 1 :]}"
    return (
        f"{_where(file)} ({clientTitle(refused['client'], file)}) is not adopted: {why};"
        " its servers are left to the client"
    )


def startLines(adopted: list[dict[str, str]], health: dict[str, Any] | None) -> list[str]:
    """What C{start} says of the config, under its first line: the files
    adopted, then each file not adopted and each entry not served."""
    lines = []
    if adopted:
        lines.append(f"  adopted: {', '.join(adoptedLabel(a) for a in adopted)}")
    lines += [f"  ! {refusedLine(refused)}" for refused in refusedFiles(health)]
    lines += [f"  ! {invalidLine(entry)}" for entry in invalidEntries(health)]
    lines += [f"  ! {ignoredLine(entry)}" for entry in ignoredEntries(health)]
    return lines


def statusLines(health: dict[str, Any] | None) -> list[str]:
    """The warnings C{status} shows under its config line: each file not
    adopted and each entry not served, with what to do."""
    lines = []
    for refused in refusedFiles(health):
        lines += [f"  ! {refusedLine(refused)}", f"    → {FIX_FILE}"]
    for entry in invalidEntries(health):
        lines += [f"  ! {invalidLine(entry)}", f"    → {FIX_ENTRY}"]
    for ignored in ignoredEntries(health):
        lines += [f"  ! {ignoredLine(ignored)}", f"    → {ignored['fix']}"]
    return lines


def checkConfigEntries(ctx: DoctorContext) -> Check:
    """The entries the running gateway does not serve and the client files
    it did not adopt, as its C{/health} (left by the health check) says."""
    if ctx.health is None:
        return Check("info", "Config entries not checked (no /health from a running gateway)")
    if ctx.health.get("detail") == "hidden":
        return Check("info", "Config entries not checked (/health shows them to an admin only)")
    invalid, refused = invalidEntries(ctx.health), refusedFiles(ctx.health)
    ignored = ignoredEntries(ctx.health)
    if ignored and not (invalid or refused):
        return Check(
            "fail",
            f"Config: {plural(len(ignored), 'adopted entry', 'adopted entries')} with keys"
            f" that have no effect: {ignoredLine(ignored[0])}",
            ignored[0]["fix"],
            tuple(f"{ignoredLine(one)}; instead: {one['fix']}" for one in ignored[1:]),
        )
    more = tuple(f"{ignoredLine(one)}; instead: {one['fix']}" for one in ignored)
    if invalid:
        return Check(
            "fail",
            f"Config: {plural(len(invalid), 'entry', 'entries')} not served:"
            f" {invalidLine(invalid[0])}",
            FIX_ENTRY,
            tuple(invalidLine(entry) for entry in invalid[1:])
            + tuple(refusedLine(one) for one in refused)
            + more,
        )
    if refused:
        return Check(
            "fail",
            f"Client files: {plural(len(refused), 'file')} not adopted: {refusedLine(refused[0])}",
            FIX_FILE,
            tuple(refusedLine(one) for one in refused[1:]) + more,
        )
    return Check("pass", "Config entries: none left unserved, no client file refused")
