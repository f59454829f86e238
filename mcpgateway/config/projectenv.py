# -*- test-case-name: tests.config.test_projectenv -*-
"""What a project's own entry (a repository's) gets of the user's environment.

An entry of a project's own file (a repository's C{.mcp.json},
C{.cursor/mcp.json}, C{.vscode/mcp.json}...: its spec's C{origin}) is the
repository's word. The user's secrets are not the repository's to ask for,
so its child gets:

 - of the gateway's environment, the basics only
   (L{mcpgateway.core.environment.basicEnvironment}: C{PATH}, C{HOME}, the
   locale...; L{mcpgateway.core.spec.ServerSpec.environment} holds it);
 - none of the gateway's C{<state-dir>/.env}, which holds the user's own
   servers' credentials;
 - its entry's own C{env} values, and the names of its workspace's C{.env}
   its entry lists (L{mcpgateway.config.envfiles.onlyListed}).

Its C{${VAR}} expand from the same: the basics and its workspace's C{.env}
(L{expansion}). Any other C{${NAME}} (no default) names one of the user's
variables: it is read as the secret reference C{${env:NAME}}
(L{asReferences}), refused as such a reference is until the user allows
that very entry (C{mcpgateway secret allow}, L{mcpgateway.secrets.approvals}),
and once allowed resolved as one: from the gateway's environment. A
C{${NAME:-default}} of such a name takes its default. L{withheldNote} is the
line the log gives once per server: the names withheld, never a value.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from mcpgateway.core.environment import basicEnvironment, isBasic, withheld

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
"""A C{${NAME}} or C{${NAME:-default}} of the config (as
L{mcpgateway.config.servers} expands them)."""


def available(name: str, supplied: Collection[str]) -> bool:
    """Whether a project's own entry's C{${name}} may expand: a basic
    variable, or one its workspace's C{.env} sets (C{supplied})."""
    return isBasic(name) or name in supplied


def expansion(
    environ: Mapping[str, str], workspaceValues: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """What a project's own entry's C{${VAR}} expand from: the basics of
    C{environ} (the gateway's) under its workspace's C{.env}."""
    merged = basicEnvironment(environ)
    merged.update(workspaceValues)
    return merged


def _rewritten(text: str, supplied: Collection[str], asked: list[str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if default is not None or available(name, supplied):
            return match.group(0)
        if name not in asked:
            asked.append(name)
        return f"${{env:{name}}}"

    return VARIABLE.sub(substitute, text)


def asReferences(
    entry: Mapping[str, Any], supplied: Collection[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """C{entry} (a project's own) with each C{${NAME}} of its C{args} and
    C{env} values that is not L{available} written as C{${env:NAME}}, and
    those names (in order). The same entry and names give the same result
    wherever it is read (the gateway serving it, C{secret allow} approving
    it), so an approval names the references the gateway refuses."""
    asked: list[str] = []
    out = dict(entry)
    args = entry.get("args")
    if isinstance(args, list):
        out["args"] = [_rewritten(a, supplied, asked) if isinstance(a, str) else a for a in args]
    env = entry.get("env")
    if isinstance(env, dict):
        out["env"] = {
            k: _rewritten(v, supplied, asked) if isinstance(v, str) else v for k, v in env.items()
        }
    return out, tuple(asked)


def unexpandable(entry: Mapping[str, Any], supplied: Collection[str]) -> tuple[str, ...]:
    """The names a project's own entry writes as C{${NAME}} (no default)
    in its C{command} or C{cwd} that are not L{available}: no reference
    may stand there, so such an entry cannot be served."""
    found: list[str] = []
    for key in ("command", "cwd"):
        text = entry.get(key)
        if isinstance(text, str):
            for match in VARIABLE.finditer(text):
                name = match.group(1)
                if match.group(2) is None and not available(name, supplied) and name not in found:
                    found.append(name)
    return tuple(found)


def defaulted(
    entry: Mapping[str, Any], supplied: Collection[str], setNames: Collection[str]
) -> list[str]:
    """The names of C{setNames} (the user's: the gateway's environment and
    its C{.env}) a project's own entry writes as C{${NAME:-default}} that
    are not L{available}: each takes its default."""
    names = {
        match.group(1)
        for text in _texts(entry)
        for match in VARIABLE.finditer(text)
        if match.group(2) is not None and not available(match.group(1), supplied)
    }
    return sorted(names & set(setNames))


def _texts(entry: Mapping[str, Any]) -> list[str]:
    """The texts of an entry a C{${VAR}} expands in: C{command}, C{args},
    C{env} values, C{cwd}."""
    args, env = entry.get("args"), entry.get("env")
    texts = [entry.get("command"), entry.get("cwd")]
    texts += args if isinstance(args, list) else []
    texts += list(env.values()) if isinstance(env, dict) else []
    return [text for text in texts if isinstance(text, str)]


def withheldNote(
    server: str,
    path: str,
    environ: Mapping[str, str],
    gatewayFile: tuple[str, Collection[str]],
    given: Collection[str],
    asked: Iterable[str] = (),
    defaults: Iterable[str] = (),
) -> str | None:
    """The line the log gives of what a project's own entry's children are
    not given (names only); C{None}: nothing.

    @param server: its name; C{path}: the project's file it is in.
    @param environ: the gateway's environment.
    @param gatewayFile: the gateway's C{.env}: its path and the names it sets.
    @param given: the names its launch sets itself (its C{env}, its
        workspace's C{.env}): not withheld.
    @param asked: its C{${NAME}} read as C{${env:NAME}}.
    @param defaults: its C{${NAME:-default}} that take their default.
    """
    parts = []
    inherited = [name for name in withheld(environ) if name not in given]
    if inherited:
        parts.append(f"{_named(inherited)} (the gateway's environment)")
    fromFile = sorted(name for name in gatewayFile[1] if name not in given)
    if fromFile:
        parts.append(f"{_named(fromFile)} ({gatewayFile[0]})")
    asked = list(asked)
    if asked:
        shown = ", ".join(f"${{{name}}}" for name in asked)
        parts.append(f"its {shown}, read as ${{env:NAME}} (resolved once you allow the entry)")
    defaults = list(defaults)
    if defaults:
        parts.append(f"its {', '.join(f'${{{name}:-...}}' for name in defaults)} (their defaults)")
    if not parts:
        return None
    return (
        f"server '{server}' ({path}): a project's own entry's children get the basics of the"
        " gateway's environment (PATH, HOME, the locale...), their entry's env and the names of"
        f" their workspace's .env it lists; not given: {'; '.join(parts)}"
    )


def _named(names: list[str]) -> str:
    return ", ".join(names)
