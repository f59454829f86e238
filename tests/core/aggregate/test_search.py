"""Tests for L{mcpgateway.core.aggregate.search}: the FTS5 tool index and its
threaded service."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.aggregate.search import (
    WEIGHTS,
    SearchIndex,
    SearchRow,
    ThreadedSearch,
    firstSentence,
    idf,
    matchExpression,
    rowFromTool,
    splitWords,
)
from tests.core.aggregate import searchtools


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    built = SearchIndex()
    built.rebuild(1, searchtools.rows())
    return built


def test_fixture_is_120_tools_in_12_domains() -> None:
    rows = searchtools.rows()
    assert len(rows) == 120
    assert len({row.server for row in rows}) == 12
    assert len({row.name for row in rows}) == 120


# (query, the tool expected, how high it must rank)
QUERIES = [
    ("read a file", "fs__read_text_file", 3),
    ("write a file", "fs__write_file", 1),
    ("commit my changes", "git__git_commit", 1),
    ("open a pull request", "github__create_pull_request", 3),
    ("take a screenshot of the page", "browser__browser_take_screenshot", 1),
    ("remember a fact", "memory__remember_fact", 1),
    ("run sql", "postgres__query", 1),
    ("search the web", "web__web_search", 3),
    ("send a slack message", "slack__slack_post_message", 3),
    ("what time is it in tokyo", "util__get_current_time", 3),
    ("weather forecast", "util__get_weather_forecast", 1),
    ("send an email", "google__gmail_send_email", 1),
    ("restart deployment", "k8s__kubectl_rollout_restart", 1),
    ("pod logs", "k8s__kubectl_logs", 1),
    ("create a jira ticket", "jira__jira_create_issue", 1),
    ("list directory", "fs__list_directory", 1),
    ("rename a file", "fs__move_file", 1),
    ("fetch a url", "web__fetch", 1),
    ("click", "browser__browser_click", 1),
    ("knowledge graph entities", "memory__create_entities", 3),
    ("git history", "git__git_log", 1),
    ("convert currency", "util__currency_convert", 1),
    ("directions to the airport", "util__maps_directions", 1),
    ("Files", "fs__read_multiple_files", 3),
    ("screensh", "browser__browser_take_screenshot", 1),
]


@pytest.mark.parametrize(("text", "expected", "rank"), QUERIES)
def test_query_table(index: SearchIndex, text: str, expected: str, rank: int) -> None:
    names = [hit.name for hit in index.query(text, None, rank)]
    assert expected in names, names


def test_read_a_file_is_a_filesystem_read_first(index: SearchIndex) -> None:
    [top] = index.query("read a file", None, 1)
    assert top.server == "fs" and "read" in top.name


def test_scores_descend(index: SearchIndex) -> None:
    hits = index.query("search file", None, 20)
    assert len(hits) == 20
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert all(hit.score > 0 for hit in hits)


def test_idf_stays_positive() -> None:
    assert idf(20, 18) == pytest.approx(math.log(1 + 2.5 / 18.5))
    assert idf(20, 20) > 0 and idf(1, 1) > 0
    assert idf(20, 1) > idf(20, 10) > idf(20, 18) > idf(20, 20)


def _tfRows(frequencies: list[int]) -> list[SearchRow]:
    """One tool per frequency, all of the same length: its description is
    C{graph} that many times, padded to 5 words."""
    return [
        SearchRow(f"t__d{i}", "t", " ".join(["graph"] * tf + ["filler"] * (5 - tf)))
        for i, tf in enumerate(frequencies)
    ]


def _bm25(rows: int, matching: int, tf: int) -> float:
    """BM25 of a term C{tf} times in the description (weight 2) of a row
    of the average length (k1 = 1.2)."""
    weighed = WEIGHTS[3] * tf
    return idf(rows, matching) * weighed * 2.2 / (weighed + 1.2)


def test_a_term_in_most_tools_still_ranks_them() -> None:
    # 18 of 20 tools say "graph" (the IDF FTS5's bm25() uses is clamped to
    # nearly 0 there): every hit still scores, by how often it says it.
    frequencies = [1, 2, 3, 4, 5, 1] * 3 + [0, 0]
    built = SearchIndex()
    built.rebuild(1, _tfRows(frequencies))
    hits = built.query("graph", None, 50)
    assert len(hits) == 18
    assert all(round(hit.score, 3) > 0 for hit in hits)
    assert [hit.score for hit in hits] == pytest.approx(
        sorted((_bm25(20, 18, tf) for tf in frequencies if tf), reverse=True)
    )
    assert [hit.name for hit in hits[:3]] == ["t__d10", "t__d16", "t__d4"]  # 5 times each
    built.close()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40).filter(any))
def test_scores_are_positive_and_follow_the_term_frequency(frequencies: list[int]) -> None:
    built = SearchIndex()
    built.rebuild(1, _tfRows(frequencies))
    hits = built.query("graph", None, 50)
    matching = sum(1 for tf in frequencies if tf)
    tfOf = {f"t__d{i}": tf for i, tf in enumerate(frequencies)}
    assert {hit.name for hit in hits} == {name for name, tf in tfOf.items() if tf}
    assert all(hit.score > 0 for hit in hits)
    assert [tfOf[hit.name] for hit in hits] == sorted(
        (tf for tf in frequencies if tf), reverse=True
    )
    for hit in hits:
        assert hit.score == pytest.approx(_bm25(len(frequencies), matching, tfOf[hit.name]))
    built.close()


def test_server_filter(index: SearchIndex) -> None:
    hits = index.query("search", frozenset({"slack", "jira"}), 50)
    assert hits and {hit.server for hit in hits} <= {"slack", "jira"}
    assert index.query("read a file", frozenset(), 10) == []
    assert index.query("read a file", frozenset({"nosuch"}), 10) == []


def test_empty_query_lists_by_name(index: SearchIndex) -> None:
    hits = index.query("  ?! ", frozenset({"git"}), 100)
    assert [hit.name for hit in hits] == sorted(
        row.name for row in searchtools.rows() if row.server == "git"
    )
    assert len(index.query("", None, 7)) == 7


def test_limit(index: SearchIndex) -> None:
    assert len(index.query("file", None, 2)) == 2
    assert index.query("file", None, 0) == []


def test_rebuild_replaces_rows() -> None:
    built = SearchIndex()
    built.rebuild(1, searchtools.rows())
    built.rebuild(2, [SearchRow("x__frobnicate", "x", "Frobnicate widgets.")])
    assert built.generation == 2 and built.indexed == 1
    assert [hit.name for hit in built.query("frobnicate", None, 5)] == ["x__frobnicate"]
    assert built.query("read a file", None, 5) == []
    built.close()


def test_operators_are_words_not_syntax() -> None:
    built = SearchIndex()
    built.rebuild(
        1, [SearchRow("a__near_thing", "a", "Near and not far."), SearchRow("b__other", "b", "x")]
    )
    assert matchExpression('NEAR(a b) "x" OR * ^col:') == '"near" OR "b" OR "x" OR "col"*'
    names = [hit.name for hit in built.query('NEAR("x"', None, 5)]
    assert names[0] == "a__near_thing"
    assert [hit.name for hit in built.query("description:near", None, 5)][:1] == ["a__near_thing"]


def test_matchExpression() -> None:
    assert matchExpression("") is None
    assert matchExpression("-- ..") is None
    assert matchExpression("read a file") == '"read" OR "file"*'
    assert matchExpression("the a") == '"the" OR "a"*'
    assert matchExpression("read_file read") == '"read" OR "file"*'


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=200), servers=st.none() | st.frozensets(st.text(max_size=5), max_size=3)
)
def test_any_text_never_raises(text: str, servers: frozenset[str] | None) -> None:
    hits = _shared().query(text, servers, 5)
    assert len(hits) <= 5


_INDEX: list[SearchIndex] = []


def _shared() -> SearchIndex:
    if not _INDEX:
        _INDEX.append(SearchIndex())
        _INDEX[0].rebuild(1, searchtools.rows())
    return _INDEX[0]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=8),
    st.text(max_size=40),
)
def test_any_rows_index_and_query(pairs: list[tuple[str, str]], text: str) -> None:
    built = SearchIndex()
    built.rebuild(
        1, [SearchRow(name, "s", description, (name,), description) for name, description in pairs]
    )
    assert len(built.query(text, None, 3)) <= 3
    built.close()


def test_splitWords() -> None:
    assert splitWords("fs__read_file") == "fs read file"
    assert splitWords("readFileV2") == "read file v 2"
    assert splitWords("HTTPServer-status.get") == "http server status get"


def test_rowFromTool() -> None:
    row = rowFromTool(
        "fs__read",
        "fs",
        {
            "title": "Reader",
            "description": "Reads.",
            "inputSchema": {"properties": {"path": {"description": "Where"}, "n": 3}},
        },
    )
    assert row == SearchRow("fs__read", "fs", "Reads. Reader.", ("path", "n"), "Where")
    # What a hit shows (the first sentence) is the description, not the title
    # (every titled tool showed "X Tool.").
    summed = rowFromTool("s__sum", "s", {"title": "Get Sum Tool", "description": "Returns a sum"})
    assert firstSentence(summed.description) == "Returns a sum."
    assert rowFromTool("t", "s", {"title": "Only a title"}).description == "Only a title"
    assert rowFromTool("x", "s", {"inputSchema": "junk", "description": 5}) == SearchRow("x", "s")


def test_firstSentence() -> None:
    assert firstSentence("Read a file.  Then more.\nAnd more.") == "Read a file."
    assert firstSentence("v1.2 reader") == "v1.2 reader"
    cut = firstSentence("word " * 100, 20)
    assert len(cut) == 20 and cut.endswith("…")


class ServiceTests(SynchronousTestCase):
    """L{ThreadedSearch} with a synchronous or a held thread."""

    def setUp(self) -> None:
        self.calls: list[Callable[[], Any]] = []
        self.held: list[tuple[Deferred[Any], Callable[[], Any]]] = []
        self.hold = False
        self.built = 0

    def runInThread(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        if self.hold:
            d: Deferred[Any] = Deferred()
            self.held.append((d, lambda: f(*args, **kwargs)))
            return d
        try:
            return succeed(f(*args, **kwargs))
        except Exception:
            return fail()

    def release(self) -> None:
        while self.held:
            d, work = self.held.pop(0)
            d.callback(work())

    def rows(self) -> list[SearchRow]:
        self.built += 1
        return searchtools.rows()

    def test_search_builds_lazily_once(self) -> None:
        service = ThreadedSearch(self.runInThread)
        service.changed(self.rows)
        self.assertEqual(self.built, 0)
        hits = self.successResultOf(service.search("weather forecast", None, 1))
        self.assertEqual([hit.name for hit in hits], ["util__get_weather_forecast"])
        self.successResultOf(service.search("pod logs", None, 1))
        self.assertEqual(self.built, 1)
        self.assertEqual((service.indexed, service.generation), (120, 1))
        service.changed(lambda: [SearchRow("n__new", "n", "A new weather tool.")])
        hits = self.successResultOf(service.search("weather", None, 5))
        self.assertEqual([hit.name for hit in hits], ["n__new"])
        self.assertEqual(service.indexed, 1)

    def test_no_rows_yet(self) -> None:
        service = ThreadedSearch(self.runInThread)
        self.assertEqual(self.successResultOf(service.search("x", None, 5)), [])

    def test_searches_are_serialized(self) -> None:
        service = ThreadedSearch(self.runInThread)
        service.changed(self.rows)
        self.hold = True
        first = service.search("weather", None, 1)
        second = service.search("pod logs", None, 1)
        self.assertEqual(len(self.held), 1)
        self.assertEqual(self.built, 1)  # the rows are taken on the calling thread
        self.assertEqual(service.indexed, 0)  # but no SQLite work happened there
        self.assertNoResult(second)
        self.release()
        self.assertEqual(self.successResultOf(first)[0].name, "util__get_weather_forecast")
        self.release()
        self.assertEqual(self.successResultOf(second)[0].name, "k8s__kubectl_logs")
        self.assertEqual(self.built, 1)

    def test_failed_build_retries_next_time(self) -> None:
        service = ThreadedSearch(self.runInThread)

        def broken() -> list[SearchRow]:
            raise RuntimeError("catalog broke")

        service.changed(broken)
        self.failureResultOf(service.search("x", None, 1), RuntimeError)
        service.changed(self.rows)
        self.assertTrue(self.successResultOf(service.search("weather", None, 1)))

    def test_close(self) -> None:
        service = ThreadedSearch(self.runInThread)
        self.successResultOf(service.close())
        service.changed(self.rows)
        self.successResultOf(service.search("x", None, 1))
        self.successResultOf(service.close())
        self.assertEqual(self.successResultOf(service.search("weather", None, 1))[0].server, "util")
