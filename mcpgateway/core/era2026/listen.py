# -*- test-case-name: tests.core.era2026.test_listen -*-
"""C{subscriptions/listen} streams (MCP 2026-07-28) on a handshake child.

A L{Listener} is one open listen stream, attached to the child's router as
a session of its own: list changes reach it through the fanout like any
session, for the flags it was honoured; its resource URIs are counted with
the 2025 sessions' subscriptions (L{mcpgateway.core.fanout.SharedFanout}:
the child hears the first C{resources/subscribe} of a URI and the last
C{resources/unsubscribe}, whoever sent them), and they come back with the
others when the child is restarted, after which the stream gets a
C{list_changed} for each list flag it holds (the child is new: its lists
may be too). A listener never gets log messages, requests or progress.

What the web writes (the acknowledgement, the C{subscriptionId} tag on
every frame, the graceful end) is the web's: the listener hands it the
child's notifications untagged.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.era2026.types import ListenFilter, Sink
from mcpgateway.core.router import Router
from mcpgateway.protocol import jsonrpc
from mcpgateway.protocol.jsonrpc import Message
from mcpgateway.runtime import logs

__all__ = ["Listener", "honour"]

_FLAGS = (
    ("tools", "notifications/tools/list_changed"),
    ("prompts", "notifications/prompts/list_changed"),
    ("resources", "notifications/resources/list_changed"),
)


def honour(wanted: ListenFilter, capabilities: Mapping[str, Any]) -> ListenFilter:
    """What of C{wanted} a child with C{capabilities} (from its
    C{InitializeResult}) can send: a list flag only where it declares
    C{listChanged}, resource URIs only where it declares C{subscribe}."""

    def declares(name: str, flag: str) -> bool:
        capability = capabilities.get(name)
        return isinstance(capability, Mapping) and capability.get(flag) is True

    return ListenFilter(
        tools=wanted.tools and declares("tools", "listChanged"),
        prompts=wanted.prompts and declares("prompts", "listChanged"),
        resources=wanted.resources and declares("resources", "listChanged"),
        uris=tuple(dict.fromkeys(wanted.uris)) if declares("resources", "subscribe") else (),
    )


class Listener:
    """One listen stream, as a session of the child's router.

    @ivar honoured: what it carries (the acknowledgement's content).
    @ivar ended: fires with a reason when the core ends the stream.
    """

    log = Logger(observer=logs.observer)
    era2026 = True
    called = False  # never restored: nothing to tell it of a child started anew
    """Not a 2025 session: never counted for promotion, never given logs."""

    def __init__(
        self,
        router: Router,
        honoured: ListenFilter,
        sink: Sink,
        scope: str = "",
        onClosed: Callable[[Listener], object] | None = None,
    ) -> None:
        self.id = "l-" + secrets.token_hex(6)
        self.capabilities: dict[str, Any] = {}
        self.logLevel: str | None = None
        self.subscriptions: set[str] = set()
        """The URIs counted for it (the fanout fills this)."""
        self.scope = scope
        self.honoured = honoured
        self.ended: Deferred[str] = Deferred()
        self._router = router
        self._sink = sink
        self._onClosed = onClosed
        self._ids = itertools.count(1)
        self.open = False

    def start(self) -> None:
        """Attach to the router, and subscribe to the honoured URIs."""
        self.open = True
        self._router.attach(self)
        for uri in self.honoured.uris:
            subscribe = jsonrpc.request(
                f"listen-{next(self._ids)}", "resources/subscribe", {"uri": uri}
            )
            self._router.request(self, subscribe, None).addErrback(self._subscribeFailed, uri)

    def _subscribeFailed(self, reason: Failure, uri: str) -> None:
        if reason.check(CancelledError):
            return  # the stream closed before the child answered
        self.log.failure(
            "server {server}: subscribing a listen stream to {uri} failed",
            failure=reason,
            server=self._router.name,
            uri=uri,
        )

    # -- SessionLike ---------------------------------------------------------------

    def deliver(self, message: Message) -> bool:
        """Pass on a notification it was honoured for; refuse anything else."""
        if not self.open:
            return False
        method = message.get("method")
        honoured = self.honoured
        for flag, listChanged in _FLAGS:
            if method == listChanged:
                return bool(getattr(honoured, flag)) and self._sink(message)
        if method == "notifications/resources/updated":
            params = message.get("params")
            uri = params.get("uri") if isinstance(params, dict) else None
            return uri in honoured.uris and self._sink(message)
        return False

    def childRestored(self) -> None:
        """The child was started again: its lists may have changed."""
        if not self.open:
            return
        for flag, listChanged in _FLAGS:
            if getattr(self.honoured, flag):
                self._sink(jsonrpc.notification(listChanged))

    # -- ListenHandle --------------------------------------------------------------

    def close(self) -> None:
        """The client went away: give back the subscriptions it held."""
        if not self.open:
            return
        self.open = False
        self._router.detach(self, "listen stream closed")
        if self._onClosed is not None:
            self._onClosed(self)

    def end(self, reason: str) -> None:
        """End the stream from the gateway's side (C{ended} fires)."""
        if not self.open:
            return
        self.close()
        self.ended.callback(reason)

    def __repr__(self) -> str:
        return f"<Listener {self.id} on {self._router.name}>"
