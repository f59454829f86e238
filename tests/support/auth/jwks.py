"""What tests/auth/test_jwks.py shares with the other tests: FakeFetch, result."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from mcpgateway.auth.jwks import Fetched, FetchError


def result(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


class FakeFetch:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Deferred[bytes]]] = []

    def __call__(self, url: str) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self.calls.append((url, d))
        return d

    def answer(self, body: Any, maxAge: float | None = None, index: int = -1) -> None:
        data = Fetched(body if isinstance(body, bytes) else json.dumps(body).encode())
        data.maxAge = maxAge
        self.calls[index][1].callback(data)

    def fail(self, why: str = "boom", index: int = -1) -> None:
        self.calls[index][1].errback(FetchError(why))
