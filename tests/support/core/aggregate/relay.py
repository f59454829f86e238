"""What tests/core/aggregate/test_relay.py shares with the other tests: member,
session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from mcpgateway.core.aggregate.relay import MemberRelay
from mcpgateway.core.aggregate.session import AggregateSession, MemberSession
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.protocol.jsonrpc import Message


@dataclass
class FakeSpec:
    name: str


@dataclass
class FakePool:
    """What the relay uses of a member's pool: C{answer} and C{notify}."""

    name: str
    answered: list[tuple[MemberSession, Message]] = field(default_factory=list)
    notified: list[tuple[MemberSession, Message]] = field(default_factory=list)

    @property
    def spec(self) -> FakeSpec:
        return FakeSpec(self.name)

    def answer(self, member: MemberSession, message: Message) -> bool:
        self.answered.append((member, message))
        return True

    def notify(self, member: MemberSession, message: Message) -> None:
        self.notified.append((member, message))


def session() -> AggregateSession:
    return AggregateSession("sid", "/mcp", "2025-11-25", {}, {}, 0.0)


def member(relay: MemberRelay, parent: AggregateSession, server: str) -> MemberSession:
    opened = MemberSession(parent, cast(PoolLike, FakePool(server)), relay, "", 0.0)
    parent.members[server] = opened
    return opened
