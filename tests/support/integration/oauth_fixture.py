"""What tests/integration/remote/test_oauth_fixture.py shares with the other tests:
OAuthServer, oauth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import REPO, FixtureServer

FIXTURE = REPO / "tests" / "fixtures" / "oauth_server.py"


class OAuthServer(FixtureServer):
    """The fixture on a free loopback port, its stdout in C{log}."""

    def __init__(self, log: Path, *args: str) -> None:
        super().__init__(FIXTURE, log, *args)


@pytest.fixture
def oauth(tmp_path: Path) -> Iterator[Callable[..., OAuthServer]]:
    """Start fixtures with C{oauth(args...)}; all are stopped after the test."""
    started: list[OAuthServer] = []

    def starter(*args: str) -> OAuthServer:
        server = OAuthServer(tmp_path / f"oauth-{len(started)}.log", *args)
        started.append(server)
        return server

    yield starter
    for server in started:
        server.stop()
