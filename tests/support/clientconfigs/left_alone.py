"""A client file the adoption must leave as it is (an entry it cannot
serve, a policy that would break the rewritten entries, the gateway's own
bridge): adopted, the file keeps every byte, and the report says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpgateway.clientconfigs.clients.base import ClientAdapter, Host
from mcpgateway.clientconfigs.reports import EngineReport
from tests.clientconfigs.adoptkit import engine, makeHost, urlFor, write


def adoptedUnchanged(tmp_path: Path, host: Host, client: ClientAdapter, path: Path) -> EngineReport:
    """Adopt the files of C{client} on C{host}, and check that C{path} is
    byte for byte what it was: the adoption's report."""
    before = path.read_bytes()
    report = engine(tmp_path, [client], host).adopt(urlFor)
    assert path.read_bytes() == before
    return report


def skippedIn(
    tmp_path: Path, client: ClientAdapter, relative: str, document: dict[str, Any]
) -> list[tuple[str, str]]:
    """Write C{document} (JSON) at C{relative} under a fresh host's home,
    adopt it with C{client} and check the file is left as it was: the
    entries skipped, with why."""
    host = makeHost(tmp_path)
    path = write(host.home / relative, json.dumps(document))
    return adoptedUnchanged(tmp_path, host, client, path).files[0].skipped
