"""KeptRecords, a session store for test cases that read what the gateway
saved, and openAs, a session of a principal opened with its credentials."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc


class KeptRecords:
    """A L{mcpgateway.core.sessions.SessionPersistence} mixed into a test
    case: L{load} gives C{records}, L{save} replaces them, so a test reads
    (and seeds) the sessions file as a plain list."""

    records: list[dict[str, Any]]

    def load(self) -> list[dict[str, Any]]:
        return self.records

    def save(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def remember(self, record: dict[str, Any]) -> None:
        """Nothing: these tests keep what L{save} is given."""

    def forget(self, sessionId: str) -> None:
        """Nothing: these tests keep what L{save} is given."""


def openAs(
    gateway: Gateway,
    server: str,
    initialize: jsonrpc.Message,
    protocolVersion: str,
    principal: str,
    credentials: dict[str, str],
) -> tuple[Session, Deferred[jsonrpc.Message]]:
    """A session of C{principal} on C{server} and its initialize answer;
    C{credentials} are the client's headers, their key under C{"key"}."""
    credentials = dict(credentials)
    return gateway.opener.openSession(
        server,
        initialize,
        protocolVersion,
        principal=principal,
        credentialKey=credentials.pop("key", ""),
        credentials=tuple(credentials.items()),
    )
