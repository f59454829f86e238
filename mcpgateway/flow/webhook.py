# -*- test-case-name: tests.flow.test_webhook -*-
"""A person told of each call held, by a webhook: L{HeldCallWebhook}.

Where the C{"flow"} setting names a C{"webhook"} URL, each call the rule
holds is told to it as it is held: one C{POST} of a JSON object (L{body})
saying which call waits, who made it, what it calls, the labels that held
it and how to decide it. The person still decides out of band (the
console, C{mcpgateway approvals}); the webhook only tells them to.

The body never carries the call's arguments: they may be the very data
the rule keeps from leaving (a private file's text in a comment), and a
webhook is another way out of the machine. The person reads them in the
console, or with C{mcpgateway approvals show}.

A URL may carry a secret (a chat's incoming webhook names its token in
the path): the log names its host only. A post that fails, or takes more
than L{TIMEOUT} seconds, is logged and not sent again; the call waits for
a person all the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.runtime import logs

if TYPE_CHECKING:
    from mcpgateway.flow.held import HeldCall

__all__ = ["LOOPBACK", "TIMEOUT", "HeldCallWebhook", "body", "checkedUrl"]

TIMEOUT = 10.0
"""Seconds a post may take, connecting included."""

Post = Callable[[str, bytes], "Deferred[int]"]
"""Posts a JSON body to a URL; fires with the answer's status code."""


LOOPBACK = ("127.0.0.1", "::1", "localhost")
"""The hosts a webhook may be reached at over plain C{http}."""


def checkedUrl(value: Any, where: str) -> str:
    """C{value} as a webhook's URL: an C{https} URL with a host (C{http}
    for a loopback host only: what is posted, and a token the URL may
    carry, never cross a network in clear), at most 2,048 characters.

    @raise ValueError: it is not, in a line naming C{where}.
    """
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise ValueError(f"'{where}' must be an http or https URL (at most 2,048 characters)")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"'{where}' must be an http or https URL with a host")
    if parts.scheme == "http" and host not in LOOPBACK:
        raise ValueError(f"'{where}' must be an https URL (http only to a loopback host)")
    return value


def body(call: HeldCall) -> dict[str, Any]:
    """What a webhook is told of C{call}, newly held: everything a person
    needs to find and decide it, never its arguments (see the module)."""
    return {
        "event": "held",
        "call": {
            "id": call.id,
            "principal": call.principal,
            "client": list(call.client),
            "server": call.server,
            "tool": call.tool,
            "labels": sorted(label.value for label in call.labels),
            "reason": call.reason,
            "expiry": call.expiry,
            "digest": call.digest,
        },
        "decide": {
            "console": "/status/approvals",
            "allow": f"mcpgateway approvals allow {call.id}",
            "deny": f"mcpgateway approvals deny {call.id}",
        },
    }


class HeldCallWebhook:
    """Tells the C{"flow"} setting's webhook of each call held (see the
    module)."""

    log = Logger(observer=logs.observer, namespace="mcpgateway.flow.webhook")

    def __init__(
        self, clock: IReactorTime, url: Callable[[], str | None], post: Post | None = None
    ) -> None:
        """
        @param clock: what a post's L{TIMEOUT} is timed by (the reactor,
            which the default C{post} connects with).
        @param url: the webhook's URL now: the setting's, as the last
            reload read it (C{None}: none, nothing is sent).
        @param post: sends a body (default: L{agentPost} on C{clock},
            made at the first post).
        """
        self._clock = clock
        self._url = url
        self._post = post
        self.sent = 0
        self.failed = 0

    def __call__(self, call: HeldCall) -> None:
        """A held call changed state: a call newly held is told to the
        webhook, if one is set."""
        url = self._url()
        if url is None or call.state.value != "pending":
            return
        post = self._post
        if post is None:
            post = self._post = agentPost(self._clock)
        host = urlsplit(url).hostname
        data = json.dumps(body(call), separators=(",", ":")).encode()
        sent = post(url, data).addTimeout(TIMEOUT, self._clock)

        def answered(status: int) -> None:
            if 200 <= status < 300:
                self.sent += 1
                self.log.info(
                    "flow: told the webhook at {host} of held call {call}", host=host, call=call.id
                )
                return
            self.failed += 1
            self.log.warn(
                "flow: the webhook at {host} answered {status} for held call {call}",
                host=host,
                status=status,
                call=call.id,
            )

        def failed(reason: Failure) -> None:
            self.failed += 1
            self.log.warn(
                "flow: the webhook at {host} could not be told of held call {call}: {why}",
                host=host,
                call=call.id,
                why=reason.getErrorMessage() or repr(reason.value),
            )

        sent.addCallbacks(answered, failed)


def agentPost(reactor: Any) -> Post:
    """L{Post} with twisted.web's C{Agent} on C{reactor} (TLS verified for
    C{https}), the answer's body read and dropped."""
    from io import BytesIO

    from twisted.web.client import Agent, FileBodyProducer, readBody
    from twisted.web.http_headers import Headers

    agent = Agent(reactor, connectTimeout=TIMEOUT)

    def post(url: str, data: bytes) -> Deferred[int]:
        headers = Headers({b"content-type": [b"application/json"], b"user-agent": [b"mcpgateway"]})
        sent = agent.request(b"POST", url.encode(), headers, FileBodyProducer(BytesIO(data)))

        def status(response: Any) -> Deferred[int]:
            code: int = response.code
            return readBody(response).addBoth(lambda _: code)

        return sent.addCallback(status)

    return post
