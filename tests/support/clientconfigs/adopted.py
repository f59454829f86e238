"""One client's file in a fresh host's home, adopted by an engine that
knows only that client: what the tests of each client's adapter start
from, and the restore they end with."""

from __future__ import annotations

from pathlib import Path

from mcpgateway.clientconfigs.clients.base import ClientAdapter
from mcpgateway.clientconfigs.engine import AdoptionEngine
from mcpgateway.clientconfigs.reports import EngineReport
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write


def adoptedHome(
    tmp_path: Path, client: ClientAdapter, relative: str, text: str
) -> tuple[AdoptionEngine, Path, EngineReport]:
    """Write C{text} at C{relative} under a fresh host's home and adopt it
    with C{client}: the engine, the file and the adoption's report."""
    host = makeHost(tmp_path)
    path = write(host.home / relative, text)
    gateway = engine(tmp_path, [client], host)
    return gateway, path, gateway.adopt(urlFor)


def checkRestored(gateway: AdoptionEngine, path: Path, text: str) -> None:
    """Restore what C{gateway} adopted: C{path} holds C{text} again."""
    gateway.restore()
    assert path.read_text() == text
