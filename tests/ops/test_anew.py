"""The children a restart or a crash did not keep, each named with why:
read from what another process wrote (its warden's report, its ledger),
checked as outside input (files in a temporary state directory only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.ops import anew
from mcpgateway.ops.anew import (
    MAX_NAMED,
    WARDEN_GONE_ENDED,
    WARDEN_GONE_STOPPED,
    StartedAnew,
    crashedChildren,
    fromLedger,
    named,
    takeWardenReport,
)
from mcpgateway.ops.statedir import LedgerChild
from mcpgateway.ops.wardenfiles import REPORT


def test_a_child_started_anew_survives_its_json() -> None:
    one = StartedAnew("files", 4711, "its entry changed", "ab12cd34")
    assert StartedAnew.fromJson(one.toJson()) == one
    assert StartedAnew("files", 4711, "x").toJson() == {"server": "files", "pid": 4711, "why": "x"}


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"server": "a", "pid": "1", "why": "x"},
        {"server": "a", "pid": True, "why": "x"},
        {"server": "a", "pid": 0, "why": "x"},
        {"server": 1, "pid": 1, "why": "x"},
        {"server": "a", "pid": 1},
        {"server": "a", "pid": 1, "why": "x", "session": 3},
    ],
)
def test_what_is_not_a_child_started_anew_is_left_out(data: Any) -> None:
    assert StartedAnew.fromJson(data) is None


def test_names_and_reasons_are_cut_and_made_printable() -> None:
    [one] = named([{"server": "a\x1b[31m\n", "pid": 1, "why": "w" * 1000, "session": "s" * 40}])
    assert one.server == "a [31m " and len(one.why) == anew.MAX_TEXT and one.session == "s" * 8
    many = named([{"server": "a", "pid": n + 1, "why": "x"} for n in range(MAX_NAMED + 5)])
    assert len(many) == MAX_NAMED and named("not a list") == []


@given(st.lists(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8))))
def test_any_list_of_objects_is_read_without_raising(entries: list[dict[str, Any]]) -> None:
    assert all(isinstance(one, StartedAnew) for one in named(entries))


def test_the_wardens_report_is_read_once(tmp_path: Path) -> None:
    why = "no gateway came within the grace"
    stopped = [{"server": "files", "pid": 4711, "why": why}]
    (tmp_path / REPORT).write_text(json.dumps({"stopped": stopped}))
    assert takeWardenReport(tmp_path) == [StartedAnew("files", 4711, why)]
    assert not (tmp_path / REPORT).exists() and takeWardenReport(tmp_path) == []
    (tmp_path / REPORT).write_text("{not json")
    assert takeWardenReport(tmp_path) == [] and not (tmp_path / REPORT).exists()


def test_a_ledger_names_the_children_a_warden_killed_with_its_gateway_left() -> None:
    children = [
        LedgerChild(1, "files", True),
        LedgerChild(2, "solo", False),
        LedgerChild(3, "files", True, helper=True),  # its package install: no child
    ]
    assert fromLedger(children) == [
        StartedAnew("files", 1, WARDEN_GONE_STOPPED),
        StartedAnew("solo", 2, WARDEN_GONE_ENDED),
    ]


def test_at_start_the_report_comes_first_and_a_waiting_warden_says_it_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mcpgateway.ops.statedir as statedir

    monkeypatch.setattr(
        statedir, "previousChildren", lambda stateDir: [LedgerChild(9, "files", False)]
    )
    assert crashedChildren(tmp_path) == [StartedAnew("files", 9, WARDEN_GONE_ENDED)]
    (tmp_path / REPORT).write_text(json.dumps({"stopped": [{"server": "a", "pid": 5, "why": "w"}]}))
    assert crashedChildren(tmp_path) == [StartedAnew("a", 5, "w")]
    import mcpgateway.ops.wardenfiles as warden

    monkeypatch.setattr(warden, "wardenWaits", lambda stateDir: True)  # with the children
    assert crashedChildren(tmp_path) == []
