# -*- test-case-name: tests.secrets.test_importing,tests.cli.test_secret -*-
"""Plain-text tokens in the gateway's own config, found and moved to the secret store.

C{mcpgateway secret import} reads C{<state-dir>/servers.json} (the servers
added through the management API, and the overrides' extra C{env}): a value
of an entry's C{env} that looks like a token (L{looksLikeToken}) is a
L{Finding}. Each one the user accepts is kept in the secret store under a
name of its server and variable (L{secretNameFor}), and its place in the
file is rewritten to C{${keyring:NAME}} (L{rewrite}); the file is written
atomically, after a copy of it, sealed with the store's key, is kept
(L{BACKUP_FILE}: C{secret import --undo} puts it back).

The gateway's copies of adopted client configs (the backups of
L{mcpgateway.clientconfigs.backups}) are read too, and what looks like a
token there is reported, never rewritten: the gateway gives those entries
back to their client as they were, and rebuilds what it serves from them.

Pure but for L{adoptedFindings} (it reads the backups). No Twisted. A value
is never put in a finding's text: only its length.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpgateway.config.references import SECRET_NAME

BACKUP_FILE = "servers.json.before-secret-import"
"""The copy of C{servers.json} before the last import, sealed with the
secret store's key (it holds the plain-text values)."""
TOKEN_PREFIXES = (
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk_live_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xapp-",
    "AKIA",
    "hf_",
    "npm_",
    "pypi-",
    "lin_api_",
    "ntn_",
)
"""How well-known services' tokens begin (GitHub, GitLab, OpenAI and
Anthropic, Stripe, Slack, AWS, Hugging Face, npm, PyPI, Linear, Notion)."""
SECRET_WORDS = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
"""Words of a variable's name that say its value is a secret."""
NOT_SECRET_SUFFIXES = ("_PATH", "_FILE", "_DIR", "_URL", "_URI", "_HOST", "_NAME", "_ID")
"""Endings of names that hold where a secret is, or what it is called, not the secret."""
MIN_LENGTH = 8
"""A value shorter than this is not taken for a token by its variable's name alone."""


@dataclass(frozen=True)
class Finding:
    """One plain-text value of C{servers.json} that looks like a token."""

    section: str
    """C{mcpServers} (an entry's C{env}) or C{overrides} (an override's C{env})."""
    server: str
    variable: str
    value: str = field(repr=False)

    @property
    def label(self) -> str:
        where = "override of server" if self.section == "overrides" else "server"
        return f"{where} '{self.server}': env {self.variable} ({len(self.value)} characters)"


def looksLikeToken(variable: str, value: str) -> bool:
    """Whether the value of C{variable} looks like a token: it starts as a
    well-known service's do (L{TOKEN_PREFIXES}), or the name says secret
    (L{SECRET_WORDS}) and the value is one word of at least L{MIN_LENGTH}
    characters that is not a path, a URL, a number or a boolean. A value
    holding a C{${...}} (a reference, a variable) never does."""
    if not value or "${" in value:
        return False
    if value.startswith(TOKEN_PREFIXES):
        return True
    name = variable.upper()
    if not SECRET_WORDS.search(name) or name.endswith(NOT_SECRET_SUFFIXES):
        return False
    return (
        len(value) >= MIN_LENGTH
        and not any(c.isspace() for c in value)
        and not value.startswith(("/", "~", "."))
        and "://" not in value
        and value.lower() not in ("true", "false")
        and not value.isdigit()
    )


def findings(document: Mapping[str, Any]) -> list[Finding]:
    """The plain-text tokens of a C{servers.json} document, in file order."""
    found = []
    for section, server, env in _envBlocks(document):
        for variable, value in env.items():
            if isinstance(value, str) and looksLikeToken(str(variable), value):
                found.append(Finding(section, server, str(variable), value))
    return found


def _envBlocks(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for section in ("mcpServers", "overrides"):
        block = document.get(section)
        if not isinstance(block, dict):
            continue
        for server, entry in block.items():
            env = entry.get("env") if isinstance(entry, dict) else None
            if isinstance(env, dict):
                yield section, str(server), env


def secretNameFor(finding: Finding, existing: Mapping[str, str | None]) -> tuple[str, bool]:
    """The name to keep C{finding}'s value under, and whether it must be
    stored (C{False}: a secret of that name holds that value already).

    @param existing: the value of each name taken (C{None}: taken, value unknown).
    """
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{finding.server}.{finding.variable}")
    base = base.lstrip(".-")[:120] or "secret"
    assert SECRET_NAME.fullmatch(base)
    name, n = base, 1
    while name in existing:
        if existing[name] == finding.value:
            return name, False
        n += 1
        name = f"{base}-{n}"
    return name, True


def rewrite(document: dict[str, Any], moved: Mapping[Finding, str]) -> tuple[dict[str, Any], int]:
    """A copy of C{document} with each value of C{moved} (the finding and its
    secret's name) replaced by C{${keyring:NAME}}, where it still holds that
    value; how many were replaced."""
    out = copy.deepcopy(document)
    count = 0
    for finding, name in moved.items():
        block = out.get(finding.section)
        entry = block.get(finding.server) if isinstance(block, dict) else None
        env = entry.get("env") if isinstance(entry, dict) else None
        if isinstance(env, dict) and env.get(finding.variable) == finding.value:
            env[finding.variable] = "${keyring:" + name + "}"
            count += 1
    return out, count


@dataclass(frozen=True)
class AdoptedFinding:
    """A token in the gateway's copy of an adopted client entry (reported only)."""

    configPath: str
    """The client's file the entry belongs to."""
    server: str
    variable: str
    backup: str
    """The gateway's copy (its backup file)."""


def adoptedFindings(stateDir: Path) -> list[AdoptedFinding]:
    """What looks like a token in the originals of the adopted entries the
    gateway keeps (unusable backups are skipped)."""
    from mcpgateway.clientconfigs.backups import everyBackup

    found = []
    for path, backup in everyBackup(stateDir):
        for (_, name), record in sorted(backup.records.items(), key=lambda item: item[0][1]):
            original = record.original
            env = original.get("env") if isinstance(original, dict) else None
            if not isinstance(env, dict):
                continue
            for variable, value in env.items():
                if isinstance(value, str) and looksLikeToken(str(variable), value):
                    found.append(AdoptedFinding(backup.configPath, name, str(variable), str(path)))
    return found
