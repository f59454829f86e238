# -*- test-case-name: tests.core.aggregate.test_results,tests.core.aggregate.test_era2026search -*-
"""Whole tool results kept for C{get_result}, after the shield cut them.

One job: keep a bounded number of results, each under an unguessable ref,
and hand back pages of them. A L{ResultStore} belongs to one caller (an
aggregate session, or one principal on one endpoint); it keeps a decoded
copy of each result's compact JSON and forgets the least recently used
ones past C{maxEntries} or C{maxBytes}, and any older than C{maxAge}
seconds (on its injected clock). A gateway-wide L{ResultBudget} caps the
bytes of every store together, evicting the globally least recently used.

A page names a dotted C{path} into the result (default: its largest array
or string; a string holding JSON is walked into), and counts C{offset} and
C{limit} in items of an array or in characters of a string. A string that
holds a JSON array is paged as that array (C{decoded: true}), whether the
path was given or is the default: the same data pages the same way. C{fields}
projects the keys of object items; C{query} keeps the items (or, in a
string, the lines) whose text holds it, case-insensitively.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from twisted.internet.interfaces import IReactorTime

__all__ = [
    "BadPath",
    "CallerResults",
    "ResultBudget",
    "ResultGone",
    "ResultStore",
    "ResultTooLarge",
    "compact",
]

#: Items in a page when no limit is given.
DEFAULT_ITEMS = 50
#: Characters (or lines, with a query) in a page when no limit is given.
DEFAULT_CHARS = 16384


class ResultGone(LookupError):
    """No such ref: never made here, evicted, or expired (the message says
    which, as far as the store knows)."""


class ResultTooLarge(ValueError):
    """A result larger than its store (or the whole budget) may hold."""


class BadPath(ValueError):
    """A C{path} that does not name a part of the result."""


def compact(value: object) -> bytes:
    """The compact UTF-8 JSON of C{value} (the size a result is counted at)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def copied(result: object) -> tuple[object, int]:
    """A private copy of C{result} (through its compact JSON, so what is
    kept is plain JSON) and that JSON's length: what L{ResultStore.putCopy}
    takes. Pure; safe in a worker thread."""
    encoded = compact(result)
    return json.loads(encoded), len(encoded)


class _Entry:
    __slots__ = ("born", "default", "nbytes", "parsed", "value")

    def __init__(self, value: object, nbytes: int, born: float) -> None:
        self.value = value
        self.nbytes = nbytes
        self.born = born
        self.parsed: dict[str, object] = {}
        self.default: tuple[str, bool] | None = None


class ResultBudget:
    """The bytes every store together may keep."""

    def __init__(self, maxBytes: int = 256 * 2**20) -> None:
        self.maxBytes = maxBytes
        self.used = 0
        """Bytes kept by all stores."""
        self.evicted = 0
        """Entries evicted to keep within C{maxBytes}."""
        self._order: OrderedDict[tuple[ResultStore, str], int] = OrderedDict()

    def _add(self, store: ResultStore, ref: str, nbytes: int) -> None:
        if nbytes > self.maxBytes:
            raise ResultTooLarge(f"{nbytes} bytes is over the result budget of {self.maxBytes}")
        self._order[(store, ref)] = nbytes
        self.used += nbytes
        while self.used > self.maxBytes:
            (oldStore, oldRef), _ = next(iter(self._order.items()))
            oldStore._drop(oldRef, "evicted: the gateway's result budget is full")
            self.evicted += 1

    def _touch(self, store: ResultStore, ref: str) -> None:
        self._order.move_to_end((store, ref))

    def _remove(self, store: ResultStore, ref: str) -> None:
        nbytes = self._order.pop((store, ref), None)
        if nbytes is not None:
            self.used -= nbytes


class ResultStore:
    """One caller's kept results."""

    def __init__(
        self,
        clock: IReactorTime,
        budget: ResultBudget,
        maxEntries: int = 100,
        maxBytes: int = 64 * 2**20,
        maxAge: float = 1800.0,
    ) -> None:
        self._clock = clock
        self._budget = budget
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._named: OrderedDict[str, str] = OrderedDict()
        """The refs of the results kept under a name of the caller's (L{keptAs})."""
        self.nbytes = 0
        """Bytes kept here."""
        self.evicted = 0
        """Entries dropped before their caller was done (count, bytes, age, budget)."""

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, result: object) -> str:
        """Keep (a copy of) C{result}; its new ref.

        @raise ResultTooLarge: it alone is over C{maxBytes} or the budget.
        """
        return self.putCopy(*copied(result))

    def putCopy(self, copy: object, nbytes: int) -> str:
        """Keep C{copy}, a private copy of a result whose compact JSON is
        C{nbytes} long (L{copied}, which may run in a thread: it is the
        costly part); its new ref.

        @raise ResultTooLarge: it alone is over C{maxBytes} or the budget.
        """
        if nbytes > self.maxBytes:
            raise ResultTooLarge(f"{nbytes} bytes is over this store's {self.maxBytes}")
        self._expire()
        ref = "r." + secrets.token_urlsafe(16)
        entry = _Entry(copy, nbytes, self._clock.seconds())
        while self._entries and (
            len(self._entries) >= self.maxEntries or self.nbytes + nbytes > self.maxBytes
        ):
            self._drop(next(iter(self._entries)), "evicted: newer results took its place")
            self.evicted += 1
        self._entries[ref] = entry
        self.nbytes += nbytes
        try:
            self._budget._add(self, ref, nbytes)
        except ResultTooLarge:
            self._drop(ref, "never kept")
            raise
        return ref

    def keptAs(self, name: str, result: object) -> str:
        """The ref of C{result} kept under C{name} (a task's id): kept at
        the first call, the same ref while it is kept, kept again once it
        is dropped (the caller pages one result, not a copy per page).

        @raise ResultTooLarge: it alone is over C{maxBytes} or the budget.
        """
        self._expire()
        ref = self._named.get(name)
        if ref is not None and ref in self._entries:
            self._named.move_to_end(name)
            return ref
        ref = self.put(result)
        self._named[name] = ref
        self._named.move_to_end(name)
        while len(self._named) > self.maxEntries:
            self._named.popitem(last=False)
        return ref

    def clear(self, why: str = "forgotten: its session ended") -> None:
        """Forget everything (the caller is gone); a ref of it is then
        L{ResultGone} saying C{why}."""
        for ref in list(self._entries):
            self._drop(ref, why)
        self._named.clear()

    def get(self, ref: str) -> object:
        """The whole result kept as C{ref}.

        @raise ResultGone: no such ref (any more).
        """
        return self._entry(ref).value

    def page(
        self,
        ref: str,
        path: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
        query: str | None = None,
    ) -> dict[str, Any]:
        """One page of the result kept as C{ref}: C{{ref, path, total,
        offset, returned, next}} plus C{items} (an array, or a string's
        lines matching C{query}), C{text} (a string) or C{value} (anything
        else, whole). C{next} is the offset of the next page, or C{None}.
        C{decoded: true} is added when the path (given or the default) is a
        string holding a JSON array, paged as that array.

        @raise ResultGone: no such ref (any more).
        @raise BadPath: C{path} names nothing in it.
        """
        entry = self._entry(ref)
        if path is None or path == "":
            path, _ = _largest(entry)
        node = _walk(entry, path)
        decoded = False
        if isinstance(node, str):
            parsed = _parse(entry, path, node)
            if isinstance(parsed, list):
                node, decoded = parsed, True
        offset = max(0, offset)
        page: dict[str, Any] = {"ref": ref, "path": path}
        if decoded:
            page["decoded"] = True
        if isinstance(node, str) and query is None:
            count = DEFAULT_CHARS if limit is None else max(0, limit)
            text = node[offset : offset + count]
            page.update(total=len(node), offset=offset, returned=len(text), text=text)
            end = offset + len(text)
            page["next"] = end if end < len(node) else None
            return page
        if isinstance(node, str):
            needle = query.casefold() if query is not None else ""
            items: list[Any] = [line for line in node.splitlines() if needle in line.casefold()]
            count = DEFAULT_CHARS if limit is None else max(0, limit)
        elif isinstance(node, list):
            items = node
            if query is not None:
                needle = query.casefold()
                items = [
                    item
                    for item in items
                    if needle in json.dumps(item, ensure_ascii=False).casefold()
                ]
            count = DEFAULT_ITEMS if limit is None else max(0, limit)
        else:
            page.update(total=1, offset=0, returned=1, next=None, value=node)
            return page
        chosen = items[offset : offset + count]
        if fields is not None:
            wanted = list(fields)
            chosen = [
                {key: item[key] for key in wanted if key in item}
                if isinstance(item, dict)
                else item
                for item in chosen
            ]
        end = offset + len(chosen)
        page.update(
            total=len(items),
            offset=offset,
            returned=len(chosen),
            next=end if end < len(items) else None,
            items=chosen,
        )
        return page

    def _entry(self, ref: str) -> _Entry:
        self._expire()
        entry = self._entries.get(ref)
        if entry is None:
            why = self._gone.get(ref, "unknown ref")
            raise ResultGone(f"{ref}: {why}")
        self._entries.move_to_end(ref)
        self._budget._touch(self, ref)
        return entry

    def _expire(self) -> None:
        horizon = self._clock.seconds() - self.maxAge
        for ref in [ref for ref, entry in self._entries.items() if entry.born <= horizon]:
            self._drop(ref, f"expired: older than {self.maxAge:g} seconds")
            self.evicted += 1

    def _drop(self, ref: str, why: str) -> None:
        entry = self._entries.pop(ref, None)
        if entry is None:
            return
        self.nbytes -= entry.nbytes
        self._budget._remove(self, ref)
        self._gone[ref] = why
        while len(self._gone) > 4 * max(self.maxEntries, 1):
            self._gone.popitem(last=False)


class CallerResults:
    """The result stores of the callers that have no session (MCP
    2026-07-28 requests): one per (endpoint, route, principal), so that a
    ref one request was given pages in the next one, and no other
    principal or route ever reads it. Each store is bounded as a session's
    is, all of them by the gateway's L{ResultBudget}; past C{maxCallers}
    stores, the least recently used one is cleared and forgotten."""

    def __init__(self, clock: IReactorTime, budget: ResultBudget, maxCallers: int = 1024) -> None:
        self._clock = clock
        self._budget = budget
        self.maxCallers = maxCallers
        self._stores: OrderedDict[tuple[str, str, str], ResultStore] = OrderedDict()

    def __len__(self) -> int:
        return len(self._stores)

    def storeFor(self, endpoint: str, route: str, principal: str) -> ResultStore:
        """The store of C{principal}'s calls on C{endpoint} through C{route}
        (made at its first use)."""
        key = (endpoint, route, principal)
        store = self._stores.get(key)
        if store is not None:
            self._stores.move_to_end(key)
            return store
        while len(self._stores) >= self.maxCallers:
            _, oldest = self._stores.popitem(last=False)
            oldest.clear("forgotten: results of more recent callers are kept instead")
        store = self._stores[key] = ResultStore(self._clock, self._budget)
        return store


def _parse(entry: _Entry, key: str, text: str) -> object | None:
    """C{text} decoded as JSON when it looks like an array or object."""
    if key in entry.parsed:
        return entry.parsed[key]
    value: object | None = None
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
    entry.parsed[key] = value
    return value


def _walk(entry: _Entry, path: str) -> object:
    node = entry.value
    walked: list[str] = []
    for part in path.split("."):
        if isinstance(node, str):
            parsed = _parse(entry, ".".join(walked), node)
            if parsed is None:
                raise BadPath(f"{'.'.join(walked)} is a string, not JSON")
            node = parsed
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            raise BadPath(f"no {part!r} at {'.'.join(walked) or 'the top'}")
        walked.append(part)
    return node


def _largest(entry: _Entry) -> tuple[str, bool]:
    """The default path: from the top, go down into any part holding over
    half of its parent's bytes (into the JSON of a string holding some),
    and stop at the array or string where no part does so (or, at an
    object, take its largest array or string). Also whether the path is a
    string whose decoded array is meant."""
    if entry.default is not None:
        return entry.default
    node: object = entry.value
    path = ""
    decoded = False
    best: tuple[str, bool] | None = None
    """The deepest array or string reached: where a walk that ends on
    nothing to page (an object of numbers) stops instead."""
    while True:
        if isinstance(node, str):
            if path:
                best = (path, False)
            parsed = _parse(entry, path, node) if path else None
            if isinstance(parsed, (list, dict)):
                node, decoded = parsed, isinstance(parsed, list)
                if decoded:
                    best = (path, True)
                continue
            break
        if isinstance(node, list) and path:
            best = (path, decoded)
        if isinstance(node, dict):
            kids = [(str(key), value) for key, value in node.items()]
        elif isinstance(node, list):
            kids = [(str(i), value) for i, value in enumerate(node)]
        else:
            break
        sized = [
            (len(compact(value)), key, value)
            for key, value in kids
            if isinstance(value, (str, list, dict))
        ]
        if not sized:
            break
        size, key, value = max(sized, key=lambda kid: kid[0])
        if size * 2 <= len(compact(node)):
            if not isinstance(node, dict):
                break
            flat = [kid for kid in sized if isinstance(kid[2], (str, list))]
            if not flat:
                break
            size, key, value = max(flat, key=lambda kid: kid[0])
        node, path, decoded = value, f"{path}.{key}" if path else key, False
    if best is None:
        raise BadPath("the result holds no array or string to page")
    entry.default = best
    return entry.default
