"""What tests/startup/test_netproxy.py shares with the other tests: proxyOf."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from twisted.internet.defer import Deferred, fail, succeed

from mcpgateway.sandbox.netproxy import IPAddress
from mcpgateway.startup.netproxy import NetworkProxy
from tests.fakes import FakeProcessReactor

PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


class Names:
    """A fake resolver: what each name resolves to, and who asked."""

    def __init__(self, table: dict[str, list[IPAddress]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str) -> Deferred[list[IPAddress]]:
        self.asked.append(host)
        if host not in self.table:
            return fail(OSError("no such name"))
        return succeed(self.table[host])


def proxyOf(
    tmp_path: Path, names: dict[str, list[IPAddress]] | None = None, **kwargs: object
) -> tuple[NetworkProxy, FakeProcessReactor, Names]:
    reactor = FakeProcessReactor()
    resolver = Names(names or {"api.example.com": [PUBLIC], "sneaky.example.com": [LOOPBACK]})
    proxy = NetworkProxy(
        reactor,
        resolve=resolver,
        runtimeDir=lambda: str(tmp_path / "run"),
        **kwargs,  # type: ignore[arg-type]
    )
    os.makedirs(tmp_path / "run")
    return proxy, reactor, resolver
