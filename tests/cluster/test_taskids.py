"""Sealed task ids: they name the replica that made the task (address and
label), open only for the server, route and principal they were made for,
under any of the cluster's keys, and anything else opens to nothing."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.cluster.sealing import Address
from mcpgateway.cluster.taskids import MAX_TASK_ID, TaskIdSealer, TaskOwner

KEY, OTHER_KEY = os.urandom(32), os.urandom(32)
HERE = Address("10.0.0.11", 9100)


def sealer(keys: tuple[bytes, ...] = (KEY,), label: str = "r1", at: Address = HERE) -> TaskIdSealer:
    return TaskIdSealer(keys, label, lambda: at)


def test_an_id_names_its_owner_and_starts_with_its_label() -> None:
    made = sealer().newId("srv", "", "p-alice")
    assert made.startswith("r1.")
    assert sealer(label="r2").owner(made, "srv", "", "p-alice") == TaskOwner(HERE, "r1")


def test_an_ipv6_owner_with_tls_and_the_longest_label_fits() -> None:
    at = Address("fd00::1234:5678", 443, tls=True)
    made = sealer(label="r" * 32, at=at).newId("srv", "ws", "p")
    assert len(made) <= MAX_TASK_ID
    assert sealer().owner(made, "srv", "ws", "p") == TaskOwner(at, "r" * 32)


def test_an_id_opens_only_for_its_server_route_and_principal() -> None:
    made = sealer().newId("srv", "ws-1", "p-alice")
    assert sealer().owner(made, "other", "ws-1", "p-alice") is None
    assert sealer().owner(made, "srv", "ws-2", "p-alice") is None
    assert sealer().owner(made, "srv", "ws-1", "p-bob") is None


def test_another_clusters_key_opens_nothing_and_rotation_keeps_old_ids() -> None:
    made = sealer().newId("srv", "", "")
    assert sealer((OTHER_KEY,)).owner(made, "srv", "", "") is None
    assert sealer((OTHER_KEY, KEY)).owner(made, "srv", "", "") == TaskOwner(HERE, "r1")


def test_the_clear_label_is_not_trusted() -> None:
    made = sealer().newId("srv", "", "")
    relabelled = "r9." + made.partition(".")[2]
    assert sealer().owner(relabelled, "srv", "", "") == TaskOwner(HERE, "r1")


def test_a_tampered_or_truncated_id_opens_to_nothing() -> None:
    made = sealer().newId("srv", "", "")
    label, _, body = made.partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    assert sealer().owner(f"{label}.{flipped}", "srv", "", "") is None
    assert sealer().owner(f"{label}.{body[:20]}", "srv", "", "") is None
    assert sealer().owner(body, "srv", "", "") is None


@given(st.text(max_size=300))
def test_any_text_opens_to_nothing_and_never_raises(text: str) -> None:
    assert sealer().owner(text, "srv", "", "") is None
