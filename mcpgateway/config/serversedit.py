# -*- test-case-name: tests.config.test_serversedit -*-
"""One place to change a server's entry: C{<state-dir>/servers.json}.

C{mcpgateway servers edit NAME --set KEY=JSON --unset KEY} (and the
management API's C{PATCH /api/v1/servers/<name>} with C{"set"}/C{"unset"})
change the gateway's file only:

 - a server of the gateway's own (C{mcpServers} of C{servers.json}, added
   with C{servers add} or C{add}): its entry itself, any key, checked as the
   API checks a new entry;
 - any other server (adopted from a client's file, or of a C{--config}
   file): its override there (L{mcpgateway.config.serversfile.applyOverride}
   applies it over the entry at every load), whose keys are C{env} (merged
   over the entry's), C{disabled}, C{labels} (in place of the entry's:
   L{mcpgateway.flow.labels}) and the aggregate filter keys. Its
   command, arguments or sandbox are its client's: the fix for those is to
   write the whole stdio entry back in the client's file (the gateway adopts
   the changed entry anew).

A key C{A.B} is key C{B} of the object at C{A} (C{env.TOKEN}). Pure: no I/O;
the callers read and write the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcpgateway.config import servers as config
from mcpgateway.config.aggregate import SERVER_KEYS, FilterError, filterValue
from mcpgateway.config.serversfile import blockedEnvKeys
from mcpgateway.flow.labels import LabelsError, parseEntryLabels

OVERRIDE_KEYS = frozenset({"env", "disabled", "labels", *SERVER_KEYS})
"""The keys an override of a server the gateway does not own may set."""
HIDDEN_KEYS = frozenset({"env", "headers"})
"""Keys whose values are never shown (secrets live there)."""
SECRET = "***"


class EditError(ValueError):
    """A refused edit; the message names the key and what to do."""


@dataclass(frozen=True)
class Edit:
    """What to change: C{sets} (key, value) and C{unsets} (keys), in order."""

    sets: tuple[tuple[str, Any], ...] = ()
    unsets: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sets or self.unsets)


def parseSet(pair: str) -> tuple[str, Any]:
    """C{KEY=JSON} as C{(KEY, value)}.

    @raise EditError: no C{=}, an empty key, or a value that is not JSON
        (the message says how to quote a string).
    """
    key, sep, text = pair.partition("=")
    if not sep or not key:
        raise EditError(f'--set {pair!r}: must be KEY=JSON, e.g. env=\'{{"DEBUG": "1"}}\'')
    try:
        value = json.loads(text)
    except ValueError as e:
        raise EditError(
            f"--set {key}: the value is not JSON ({e}); a string needs its quotes:"
            f" --set {key}='\"text\"'"
        ) from None
    _checkKey(key)
    return key, value


def _checkKey(key: str) -> None:
    parts = key.split(".")
    if len(parts) > 2 or not all(parts):
        raise EditError(f"{key}: a key is KEY or KEY.SUBKEY (env.TOKEN)")


def editFromBody(body: Mapping[str, Any]) -> Edit:
    """The C{"set"} (an object) and C{"unset"} (a list of keys) of an API body.

    @raise EditError: either has the wrong shape.
    """
    sets = body.get("set", {})
    unsets = body.get("unset", [])
    if not isinstance(sets, dict):
        raise EditError("set: must be an object of keys and their JSON values")
    if not isinstance(unsets, list) or not all(isinstance(k, str) for k in unsets):
        raise EditError("unset: must be a list of keys")
    for key in [*sets, *unsets]:
        _checkKey(key)
    return Edit(tuple(sets.items()), tuple(unsets))


def apply(
    data: dict[str, Any], name: str, edit: Edit, environ: Mapping[str, str]
) -> tuple[str, list[str]]:
    """Change server C{name} in C{data} (a read C{servers.json}) by C{edit}:
    its own entry, else its override.

    @return: C{"entry"} or C{"override"}, and the changes, one line each
        (values of C{env} and C{headers} hidden).
    @raise EditError: a key an override cannot have, or a result the
        gateway would not serve (the message says why).
    """
    own = data["mcpServers"].get(name)
    if isinstance(own, dict):
        target = _copy(own)
        changes = _change(target, edit)
        _checkEntry(name, target, environ)
        data["mcpServers"][name] = target
        return "entry", changes
    override = data["overrides"].get(name)
    target = _copy(override if isinstance(override, dict) else {})
    for key in [k for k, _ in edit.sets] + list(edit.unsets):
        top = key.split(".")[0]
        if top not in OVERRIDE_KEYS:
            raise EditError(
                f"{key}: the gateway's file can change only {', '.join(sorted(OVERRIDE_KEYS))}"
                f" of '{name}', whose entry comes from another file; change its {top} there"
                " (in a client's file: write its whole stdio entry in place of the gateway's"
                " URL entry, and the gateway adopts it anew)"
            )
    changes = _change(target, edit)
    _checkOverride(target)
    if target:
        data["overrides"][name] = target
    else:
        data["overrides"].pop(name, None)
    return "override", changes


def _copy(entry: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(entry))
    return result


def _change(target: dict[str, Any], edit: Edit) -> list[str]:
    changes = []
    for key, value in edit.sets:
        old = _get(target, key)
        top, _, sub = key.partition(".")
        if sub:
            inner = target.get(top)
            if not isinstance(inner, dict):
                inner = target[top] = {}
            inner[sub] = value
        else:
            target[top] = value
        changes.append(f"{key}: {_shown(key, old)} -> {_shown(key, value)}")
    for key in edit.unsets:
        top, _, sub = key.partition(".")
        inner = target.get(top) if sub else None
        if sub and isinstance(inner, dict) and sub in inner:
            old = inner.pop(sub)
            if not inner:
                del target[top]
        elif not sub and top in target:
            old = target.pop(top)
        else:
            changes.append(f"{key}: not set (unchanged)")
            continue
        changes.append(f"{key}: {_shown(key, old)} -> (unset)")
    return changes


_ABSENT = object()


def _get(target: dict[str, Any], key: str) -> Any:
    top, _, sub = key.partition(".")
    if not sub:
        return target.get(top, _ABSENT)
    inner = target.get(top)
    return inner.get(sub, _ABSENT) if isinstance(inner, dict) else _ABSENT


def _shown(key: str, value: Any) -> str:
    if value is _ABSENT:
        return "(unset)"
    if key.split(".")[0] in HIDDEN_KEYS:
        if isinstance(value, dict):
            return json.dumps({k: SECRET for k in value}, sort_keys=True)
        return SECRET
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _checkEntry(name: str, entry: dict[str, Any], environ: Mapping[str, str]) -> None:
    env = entry.get("env", {})
    if not isinstance(env, dict):
        raise EditError("env: must be an object of string values")
    _checkEnv(env)
    try:
        config.parseEntry(name, entry, environ, strict=True)
    except config.EntryError as e:
        raise EditError(f"{name}: {e}") from None


def _checkOverride(override: dict[str, Any]) -> None:
    env = override.get("env")
    if env is not None:
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise EditError("env: must be an object of string values")
        _checkEnv(env)
    disabled = override.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise EditError("disabled: must be true or false")
    try:
        parseEntryLabels(override.get("labels"))
    except LabelsError as e:
        raise EditError(str(e)) from None
    for key in SERVER_KEYS:
        if override.get(key) is not None:
            try:
                filterValue(key, override[key])
            except FilterError as e:
                raise EditError(f"{key} {e.problem}") from None


def _checkEnv(env: Mapping[str, Any]) -> None:
    blocked = blockedEnvKeys(dict(env))
    if blocked:
        raise EditError(f"env: key(s) not allowed: {', '.join(blocked)}")


def editOf(sets: Sequence[str] | None, unsets: Sequence[str] | None) -> Edit:
    """The L{Edit} of C{--set KEY=JSON} and C{--unset KEY} options."""
    parsed = tuple(parseSet(pair) for pair in sets or [])
    for key in unsets or []:
        _checkKey(key)
    return Edit(parsed, tuple(unsets or []))
