"""The record of a child passed between gateway processes, and the codec
of the stream that carries the records and their descriptors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.references import Redactor
from mcpgateway.core.handedchild import (
    BadRecord,
    HandedChild,
    RecordDecoder,
    encodeRecord,
    fingerprint,
    sealSecrets,
    secretsMatch,
)
from mcpgateway.core.spec import ServerSpec

CHILD = HandedChild(
    server="files",
    session="sid-1",
    fingerprint="ab" * 32,
    pid=4321,
    pgid=4321,
    pending=b'{"jsonrpc":"2.0","id":7,"res',
    nextId=12,
    childInitializeResult={"protocolVersion": "2025-11-25", "capabilities": {}},
    sessionInitializeResult={"serverInfo": {"name": "files"}},
    sessionCapabilities={"roots": {}},
    subscriptions=("file:///a",),
    logLevel="info",
    fds=(7, 8, 9),
)


class Stream:
    """A decoder and what it handed on and closed."""

    def __init__(self) -> None:
        self.records: list[tuple[dict[str, Any], tuple[int, ...]]] = []
        self.closed: list[int] = []
        self.decoder = RecordDecoder(
            lambda record, fds: self.records.append((record, fds)), self.closed.append
        )


def test_a_child_survives_its_record() -> None:
    stream = Stream()
    for fd in CHILD.fds:
        stream.decoder.descriptor(fd + 100)
    stream.decoder.feed(encodeRecord(CHILD.toJson()))
    [(record, fds)] = stream.records
    again = HandedChild.fromJson(record, fds)
    assert again == CHILD and again.fds == (107, 108, 109)


def test_records_split_anywhere_keep_their_descriptors_in_order() -> None:
    stream = Stream()
    wire = encodeRecord(CHILD.toJson()) + encodeRecord({"kind": "end", "fds": 0})
    stream.decoder.descriptor(1)
    stream.decoder.descriptor(2)
    for cut in range(len(wire)):  # byte by byte, the third descriptor midway
        if cut == 5:
            stream.decoder.descriptor(3)
        stream.decoder.feed(wire[cut : cut + 1])
    assert [fds for _, fds in stream.records] == [(1, 2, 3), ()]
    assert stream.records[1][0]["kind"] == "end"


def test_a_record_claiming_descriptors_that_never_came_breaks_the_stream() -> None:
    stream = Stream()
    stream.decoder.descriptor(5)
    stream.decoder.feed(encodeRecord(CHILD.toJson()))
    assert stream.records == []
    assert stream.decoder.broken is not None and stream.closed == [5]
    stream.decoder.descriptor(6)  # after: closed at once
    assert stream.closed == [5, 6]


def test_an_oversized_or_unreadable_record_breaks_the_stream() -> None:
    stream = Stream()
    stream.decoder.feed((2**31).to_bytes(4, "big"))
    assert stream.decoder.broken is not None
    other = Stream()
    other.decoder.feed(b"\x00\x00\x00\x02{x")
    assert other.decoder.broken is not None and other.records == []


@pytest.mark.parametrize(
    "change",
    [
        {"pid": 0},
        {"pid": "1"},
        {"nextId": True},
        {"server": 3},
        {"pending": "not base64!"},
        {"subscriptions": [1]},
        {"childInitializeResult": []},
        {"logLevel": 5},
        {"secrets": 5},
        {"secrets": "the token itself"},
        {"secrets": "00" * 16 + ":" + "ab" * 31},
        {"childKey": 5},
        {"childKey": "k" * 1025},
    ],
)
def test_a_mangled_record_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(BadRecord):
        HandedChild.fromJson({**CHILD.toJson(), **change}, (1, 2, 3))


def test_a_record_without_its_three_descriptors_is_refused() -> None:
    with pytest.raises(BadRecord):
        HandedChild.fromJson(CHILD.toJson(), (1, 2))


@given(st.binary(max_size=200))
def test_any_bytes_never_raise_from_the_decoder(data: bytes) -> None:
    stream = Stream()
    stream.decoder.feed(data)
    for record, fds in stream.records:
        try:
            child = HandedChild.fromJson(record, fds)
        except BadRecord:
            continue
        assert child.pid > 0 and len(child.fds) == 3


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=6))
def test_any_json_object_is_a_child_or_refused(data: dict[str, Any]) -> None:
    try:
        child = HandedChild.fromJson(data, (1, 2, 3))
    except BadRecord:
        return
    assert child.pid > 0 and child.fds == (1, 2, 3)


def test_the_fingerprint_changes_with_what_the_child_runs() -> None:
    spec = ServerSpec(name="files", command="python", args=("-m", "files"))
    same = ServerSpec(name="files", command="python", args=("-m", "files"), requestTimeout=99)
    assert fingerprint(spec) == fingerprint(same)
    assert fingerprint(spec) != fingerprint(ServerSpec(name="files", command="python"))
    assert fingerprint(spec) != fingerprint(
        ServerSpec(name="files", command="python", args=("-m", "files"), env=(("A", "1"),))
    )
    assert fingerprint(spec) != fingerprint(spec, "alice")


def test_a_childs_start_time_and_sandbox_layout_go_in_its_record() -> None:
    from dataclasses import replace

    probed = {"mechanism": "bwrap", "landlock": 0, "disableUserns": True, "privateFiles": "ab"}
    one = replace(CHILD, startTime=987654, layout="cd" * 32, command="/usr/bin/node", probed=probed)
    again = HandedChild.fromJson(one.toJson(), (1, 2, 3))
    assert (again.startTime, again.layout, again.command) == (987654, "cd" * 32, "/usr/bin/node")
    assert again.probed == probed
    named = ("startTime", "layout", "command", "probed", "others")
    older = {k: v for k, v in one.toJson().items() if k not in named}
    assert HandedChild.fromJson(older, (1, 2, 3)).startTime == 0  # not known: never signalled
    assert HandedChild.fromJson(older, (1, 2, 3)).probed == {}
    assert HandedChild.fromJson(older, (1, 2, 3)).others is None


def test_the_other_servers_paths_a_child_was_laid_out_with_go_in_its_record() -> None:
    from dataclasses import replace

    one = replace(CHILD, others=("/opt/tool", "/home/u/venvs/x/bin/python"))
    assert HandedChild.fromJson(one.toJson(), (1, 2, 3)).others == one.others
    assert HandedChild.fromJson(replace(CHILD, others=()).toJson(), (1, 2, 3)).others == ()


@pytest.mark.parametrize(
    "bad",
    [
        {"startTime": True},
        {"startTime": -1},
        {"layout": 1},
        {"command": None},
        {"probed": ["bwrap"]},
        {"probed": {"mechanism": None}},
        {"probed": {"mechanism": "x" * 65}},
        {"probed": {str(n): n for n in range(9)}},
        {"others": "/opt/tool"},
        {"others": ["relative/path"]},
        {"others": [7]},
        {"others": ["/" + "x" * 4096]},
        {"others": [f"/p{n}" for n in range(257)]},
    ],
)
def test_a_record_with_a_bad_start_time_or_layout_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(BadRecord):
        HandedChild.fromJson({**CHILD.toJson(), **bad}, (1, 2, 3))


values = st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=4)


@given(values, values)
def test_a_seal_matches_the_values_it_seals_and_no_others(
    sealed: dict[str, str], others: dict[str, str]
) -> None:
    seal = sealSecrets(Redactor(sealed))
    assert secretsMatch(seal, Redactor(sealed))
    assert secretsMatch(seal, Redactor(others)) == (
        sorted(others.items()) == sorted(sealed.items())
    )


def test_a_seal_shows_no_value_and_differs_in_each_record() -> None:
    given = Redactor({"${env:GITHUB_TOKEN}": "ghp_abc", "${keyring:pw}": "x"})
    first, second = sealSecrets(given), sealSecrets(given)
    assert first != second and "ghp_abc" not in first
    assert secretsMatch(first, given) and secretsMatch(second, given)
    # A short value counts too, though the redactor leaves it in the lines.
    assert not secretsMatch(
        first, Redactor({"${env:GITHUB_TOKEN}": "ghp_abc", "${keyring:pw}": "y"})
    )


@pytest.mark.parametrize("sealed", ["", "nothex:" + "ab" * 32, "00" * 16 + "ab" * 32])
def test_what_is_not_a_seal_matches_nothing(sealed: str) -> None:
    assert not secretsMatch(sealed, Redactor({}))


def test_a_childs_sealed_secrets_and_child_key_go_in_its_record() -> None:
    child = replace(CHILD, secrets=sealSecrets(Redactor({"${env:T}": "v"})), childKey="k/1")
    again = HandedChild.fromJson(child.toJson(), (7, 8, 9))
    assert (again.secrets, again.childKey) == (child.secrets, "k/1")
    # A record of a gateway that seals nothing says it was given nothing.
    unsealed = {k: v for k, v in child.toJson().items() if k != "secrets"}
    assert HandedChild.fromJson(unsealed, (7, 8, 9)).secrets == ""
