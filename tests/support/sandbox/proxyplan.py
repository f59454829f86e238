"""What tests/sandbox/test_proxyplan.py shares with the other tests: FakeProxy,
allowing."""

from __future__ import annotations

from typing import Any

from tests.support.sandbox.confine import spec


class FakeProxy:
    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        self.recorded: list[tuple[str, str]] = []

    def socketFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...]) -> str:
        self.asked.append((server, allowed, denied))
        return f"/run/gw/{server}.sock"

    def portFor(self, server: str, allowed: tuple[str, ...], denied: tuple[str, ...]) -> int:
        self.asked.append((server, allowed, denied))
        return 40000

    def recorderFor(self, server: str, record: str) -> str:
        self.recorded.append((server, record))
        return f"/run/gw/{server}.learn.sock"

    def status(self, server: str) -> dict[str, Any] | None:
        return {"open": 0, "refused": 1, "refusedHosts": ["x:443"]} if server == "n" else None


def allowing(*domains: str, denied: tuple[str, ...] = ()) -> Any:
    network: dict[str, Any] = {"allowedDomains": list(domains)}
    if denied:
        network["deniedDomains"] = list(denied)
    return spec("n", sandbox={"network": network})
