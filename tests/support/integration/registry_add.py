"""What tests/integration/cli/test_registry_add.py shares with the other tests:
LocalRegistry."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.gateway import REPO, FixtureServer

FIXTURE = REPO / "tests" / "fixtures" / "registry_server.py"


class LocalRegistry(FixtureServer):
    """tests/fixtures/registry_server.py on a loopback port the OS chose."""

    def __init__(self, log: Path) -> None:
        super().__init__(FIXTURE, log, port=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/admin/requests", timeout=5) as r:
            found: list[str] = json.loads(r.read())["requests"]
        return found
