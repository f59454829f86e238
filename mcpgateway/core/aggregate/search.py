# -*- test-case-name: tests.core.aggregate.test_search -*-
"""Tool search for the aggregate endpoint's search mode.

One job: rank the tools of every member server against a few words a model
wrote. L{SearchIndex} is an in-memory SQLite FTS5 table (C{porter
unicode61}: C{files} finds C{file}, C{reading} finds C{read}) ranked by
BM25 with the name weighed over its words, the server, the description
and the parameters, and Lucene's IDF (L{idf}), which stays positive: a term
in most tools still ranks them by how often it occurs in each and how long
each is. User text never reaches FTS5 as syntax: it is cut into C{\\w+}
terms, each quoted, OR'd, the last one a prefix.

L{ThreadedSearch} owns one index and runs all its SQLite work through an
injected C{runInThread} (a single worker thread in production, so the
reactor never waits for SQLite; tests pass a synchronous fake), serialized
by a lock, and rebuilds the index lazily when the catalogs changed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.logger import Logger

from mcpgateway.runtime import logs
from mcpgateway.runtime.threads import RunInThread

__all__ = [
    "Hit",
    "SearchIndex",
    "SearchRow",
    "ThreadedSearch",
    "firstSentence",
    "idf",
    "matchExpression",
    "matchPhrases",
    "rowFromTool",
    "splitWords",
]


#: bm25 weights of the columns C{name, words, server, description, params}.
WEIGHTS = (10.0, 8.0, 3.0, 2.0, 1.0)
#: At most this many terms of a query are used (the rest are ignored).
MAX_TERMS = 32
#: A term longer than this is cut (no tool name word is that long).
MAX_TERM = 64
#: The IDF FTS5's C{bm25()} gives a term in half the rows or more
#: (C{fts5_aux.c}: an IDF at or below 0 is taken as this); divided out again.
FTS5_IDF_FLOOR = 1e-6

_TERM = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "what",
        "with",
        "you",
        "your",
    )
)


@dataclass(frozen=True)
class SearchRow:
    """One tool as the index sees it.

    @ivar name: the namespaced name a client calls.
    @ivar server: the member server it belongs to.
    @ivar description: the tool's description.
    @ivar parameters: the names of its input properties.
    @ivar parameterText: the descriptions of its input properties.
    """

    name: str
    server: str
    description: str = ""
    parameters: tuple[str, ...] = ()
    parameterText: str = ""


@dataclass(frozen=True)
class Hit:
    """One search result; a higher C{score} ranks first."""

    name: str
    server: str
    description: str
    score: float


def splitWords(name: str) -> str:
    """The words of an identifier, split on C{_}, C{-}, C{.} and camel case,
    lower-cased and joined by spaces (C{readFile_v2} -> C{read file v 2})."""
    return " ".join(word.lower() for word in _CAMEL.findall(name))


def rowFromTool(name: str, server: str, tool: Mapping[str, Any]) -> SearchRow:
    """The row of one tool definition (a C{tools/list} item) listed as
    C{name}; anything malformed in it is ignored."""
    description = tool.get("description")
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    names: list[str] = []
    texts: list[str] = []
    if isinstance(properties, Mapping):
        for key, value in properties.items():
            names.append(str(key))
            if isinstance(value, Mapping) and isinstance(value.get("description"), str):
                texts.append(value["description"])
    title = tool.get("title")
    text = description if isinstance(description, str) else ""
    if isinstance(title, str) and title and title not in text:
        # Searched as well, after the description: a hit shows the first
        # sentence of the description, not the title.
        text = text.rstrip()
        end = "" if not text or text[-1] in ".!?" else "."
        text = f"{text}{end} {title}." if text else title
    return SearchRow(name, server, text, tuple(names), " ".join(texts))


def firstSentence(text: str, limit: int = 160) -> str:
    """The first sentence of C{text}, on one line, at most C{limit}
    characters (cut ones end with C{…})."""
    flat = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", flat)
    if match:
        flat = flat[: match.start()]
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def matchPhrases(text: str) -> list[str]:
    """The FTS5 phrases of what a user typed (none when it has no word):
    each C{\\w+} term quoted, the last one a prefix. Stop words are dropped
    unless nothing else is left. Nothing of C{text} but letters and digits
    reaches FTS5, so no input is an operator."""
    terms = [term[:MAX_TERM].lower() for term in _TERM.findall(text)][:MAX_TERMS]
    if not terms:
        return []
    kept = [term for term in terms if term not in _STOP] or terms
    quoted = [f'"{term}"' for term in dict.fromkeys(kept)]
    quoted[-1] += "*"
    return quoted


def matchExpression(text: str) -> str | None:
    """The FTS5 expression for what a user typed (its L{matchPhrases},
    OR'd), or C{None} when it has no word."""
    return " OR ".join(matchPhrases(text)) or None


def idf(rows: int, matching: int) -> float:
    """Lucene's BM25 IDF of a term found in C{matching} of C{rows} rows:
    C{log(1 + (rows - matching + 0.5) / (matching + 0.5))}, always above 0
    (the classic C{log((N - n + 0.5) / (n + 0.5))} that FTS5 uses is 0 or
    less for a term in half the rows or more, which loses the ranking)."""
    return math.log1p((rows - matching + 0.5) / (matching + 0.5))


def _fts5Idf(rows: int, matching: int) -> float:
    """The IDF FTS5's C{bm25()} uses for the same term."""
    value = math.log((rows - matching + 0.5) / (matching + 0.5))
    return value if value > 0.0 else FTS5_IDF_FLOOR


class SearchIndex:
    """An in-memory FTS5 index of tools. Not thread-safe: one caller at a
    time (L{ThreadedSearch} serializes), from any one thread at a time."""

    def __init__(self) -> None:
        # Imported here, on the first search (in the worker thread): a
        # gateway whose aggregate is never searched does not load SQLite
        # (about 1 MB resident; the idle footprint).
        import sqlite3

        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE VIRTUAL TABLE tools USING fts5("
            "name, words, server, description, params, tokenize='porter unicode61')"
        )
        self.generation = -1
        """The generation of the rows indexed (-1: none yet)."""
        self.indexed = 0
        """How many rows are indexed."""

    def rebuild(self, generation: int, rows: Sequence[SearchRow]) -> None:
        """Replace every row by C{rows}, as of C{generation}."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM tools")
            db.executemany(
                "INSERT INTO tools(name, words, server, description, params) VALUES (?,?,?,?,?)",
                [
                    (
                        row.name,
                        splitWords(row.name),
                        row.server,
                        row.description,
                        " ".join([*(splitWords(p) for p in row.parameters), row.parameterText]),
                    )
                    for row in rows
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.generation = generation
        self.indexed = len(rows)

    def query(self, text: str, servers: frozenset[str] | None, limit: int) -> list[Hit]:
        """The best C{limit} tools for C{text}, of C{servers} only (C{None}:
        all). An empty query (no word in it) lists the tools by name.

        The score is the sum, over the query's phrases, of each one's BM25
        (FTS5's C{bm25()} of that phrase alone: its frequency in each
        column, weighed by L{WEIGHTS}, against the row's length) with
        FTS5's IDF replaced by L{idf}, counted over every row (not only
        C{servers}')."""
        if limit <= 0 or (servers is not None and not servers):
            return []
        where, args = "", []
        if servers is not None:
            ordered = sorted(servers)
            where = f" AND server IN ({','.join('?' * len(ordered))})"
            args = list(ordered)
        phrases = matchPhrases(text)
        if not phrases:
            sql = (
                f"SELECT name, server, description FROM tools WHERE 1{where} ORDER BY name LIMIT ?"
            )
            rows = self._db.execute(sql, [*args, limit]).fetchall()
            return [Hit(name, server, description, 0.0) for name, server, description in rows]
        weights = ",".join(str(w) for w in WEIGHTS)
        ranked = f"SELECT rowid, name, bm25(tools,{weights}) FROM tools WHERE tools MATCH ?{where}"
        scores: dict[int, float] = {}
        names: dict[int, str] = {}
        for phrase in phrases:
            (matching,) = self._db.execute(
                "SELECT count(*) FROM tools WHERE tools MATCH ?", [phrase]
            ).fetchone()
            if not matching:
                continue
            # bm25() is minus FTS5's IDF times the rest: swap the IDF.
            scale = -idf(self.indexed, matching) / _fts5Idf(self.indexed, matching)
            for rowid, name, rank in self._db.execute(ranked, [phrase, *args]):
                scores[rowid] = scores.get(rowid, 0.0) + float(rank) * scale
                names[rowid] = name
        best = sorted(scores, key=lambda rowid: (-scores[rowid], names[rowid]))[:limit]
        if not best:
            return []
        found = {
            rowid: (server, description)
            for rowid, server, description in self._db.execute(
                "SELECT rowid, server, description FROM tools"
                f" WHERE rowid IN ({','.join('?' * len(best))})",
                best,
            )
        }
        return [Hit(names[rowid], *found[rowid], scores[rowid]) for rowid in best]

    def close(self) -> None:
        """Free the database."""
        self._db.close()


class ThreadedSearch:
    """The aggregate's one search index, worked on in a thread.

    C{changed} marks the rows stale (cheaply, on the reactor); the next
    C{search} takes the rows and rebuilds the index in the thread first.
    """

    log = Logger(observer=logs.observer)
    engine = "fts5"

    def __init__(self, runInThread: RunInThread, index: SearchIndex | None = None) -> None:
        self._runInThread = runInThread
        self._index = index
        self._lock = DeferredLock()
        self._rows: Callable[[], Sequence[SearchRow]] = tuple
        self._generation = 0
        self._built = -1
        self.lastBuildSeconds = 0.0
        """How long the last rebuild took (for status lines)."""

    @property
    def generation(self) -> int:
        """The generation of the rows most recently announced."""
        return self._generation

    @property
    def indexed(self) -> int:
        """How many rows the index holds."""
        return self._index.indexed if self._index is not None else 0

    def changed(self, rows: Callable[[], Sequence[SearchRow]]) -> None:
        """The rows are now what C{rows()} returns (called at the next
        search, on the reactor thread)."""
        self._rows = rows
        self._generation += 1

    def search(self, text: str, servers: frozenset[str] | None, limit: int) -> Deferred[list[Hit]]:
        """The best C{limit} tools for C{text} among C{servers}."""
        return self._lock.run(self._search, text, servers, limit)

    def _search(self, text: str, servers: frozenset[str] | None, limit: int) -> Deferred[list[Hit]]:
        generation = self._generation
        rows: Sequence[SearchRow] | None = None
        if generation != self._built:
            rows = tuple(self._rows())

        def work() -> list[Hit]:
            if self._index is None:
                self._index = SearchIndex()
            if rows is not None:
                started = time.perf_counter()
                self._index.rebuild(generation, rows)
                self.lastBuildSeconds = time.perf_counter() - started
            return self._index.query(text, servers, limit)

        def built(hits: list[Hit]) -> list[Hit]:
            if rows is not None:
                self._built = generation
                self.log.debug(
                    "search index rebuilt: {count} tools, generation {generation}",
                    count=len(rows),
                    generation=generation,
                )
            return hits

        return self._runInThread(work).addCallback(built)

    def close(self) -> Deferred[None]:
        """Free the index (in the thread, after any search under way)."""

        def close() -> Deferred[None]:
            index, self._index = self._index, None
            self._built = -1
            if index is None:
                return succeed(None)
            return self._runInThread(index.close)

        return self._lock.run(close)
