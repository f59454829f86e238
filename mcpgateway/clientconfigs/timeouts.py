# -*- test-case-name: tests.clientconfigs.test_timeouts -*-
"""A client's own timeout for a server's calls, carried into what the gateway serves.

Some clients keep a timeout per server (Codex's C{tool_timeout_sec}, the
C{timeout} of Gemini CLI, Cline, Roo Code, Amazon Q and Goose: an adapter's
L{ToolTimeout<mcpgateway.clientconfigs.clients.base.ToolTimeout>}), and
adoption keeps it on the entry it writes: the client waits that long for
the gateway. The gateway would cut the call at its own request timeout
first (60 s unless the served entry sets C{requestTimeout}), so a served
entry takes the client's timeout as its C{requestTimeout} when that is
longer (L{withClientTimeout}); a shorter one changes nothing, the client
gives up on its own. Where entries of several clients serve one route, the
longest wins (L{longest}). A timeout is not part of what a server is: two
entries that differ only in it are the same server (L{withoutTimeout}).

The client reads its timeout from its file: an adopted entry whose timeout
the user edits stays adopted, the new value served, and comes back with
the original at restore (L{followEdit}).

Pure: no I/O.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from mcpgateway.clientconfigs.backups import MISSING, Record
from mcpgateway.clientconfigs.clients.base import ToolTimeout
from mcpgateway.clientconfigs.restoring import ours
from mcpgateway.config.servers import MAX_REQUEST_TIMEOUT_MS
from mcpgateway.core.spec import DEFAULT_REQUEST_TIMEOUT

KEY = "requestTimeout"
"""The served entry's request timeout, in milliseconds (L{mcpgateway.config.servers})."""


def withClientTimeout(
    served: dict[str, Any], timeout: ToolTimeout | None, entry: Any
) -> dict[str, Any]:
    """C{served} (what the gateway serves for the client's C{entry}) with the
    client's C{timeout} of C{entry} as its C{requestTimeout} when that is
    longer than the gateway's (at most the longest an entry may ask for)."""
    ms = None if timeout is None else timeout.milliseconds(entry)
    if ms is None or ms <= DEFAULT_REQUEST_TIMEOUT * 1000:
        return served
    ms = min(ms, MAX_REQUEST_TIMEOUT_MS)
    own = _millis(served)
    if own is not None and own >= ms:
        return served
    return {**served, KEY: int(ms) if ms.is_integer() else ms}


def longest(served: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """C{served} with the longer C{requestTimeout} of it and C{other}, two
    entries of one server at one route."""
    mine, theirs = _millis(served), _millis(other)
    if theirs is None or (mine is not None and mine >= theirs):
        return served
    return {**served, KEY: other[KEY]}


def withoutTimeout(entry: dict[str, Any]) -> dict[str, Any]:
    """C{entry} without its C{requestTimeout}: what says which server it is."""
    return {k: v for k, v in entry.items() if k != KEY} if KEY in entry else entry


def followEdit(timeout: ToolTimeout | None, record: Record, entry: Any) -> Record:
    """C{record} (an adopted entry's) following the user's edit of the
    client's timeout in C{entry}, the entry in the file now: when C{entry}
    is what the gateway wrote but for that key (set, changed or removed),
    the key takes the file's value in the entry written and in the original
    (so it is served, and comes back at restore); else C{record} as it is."""
    if timeout is None or not isinstance(record.original, dict) or not isinstance(entry, dict):
        return record
    key = timeout.key
    now, before = entry.get(key, MISSING), record.written.get(key, MISSING)
    if now == before:
        return record
    written, original = dict(record.written), copy.deepcopy(record.original)
    for target in (written, original):
        if now is MISSING:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(now)
    if not ours(entry, written):
        return record
    return replace(record, written=written, original=original)


def _millis(entry: dict[str, Any]) -> float | None:
    value = entry.get(KEY)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
