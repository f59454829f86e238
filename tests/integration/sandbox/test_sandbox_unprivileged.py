"""The gateway run by an unprivileged account, as a person runs it: its
children confined by bubblewrap in a user namespace of their own, the
hostile fixture refused the account's SSH key and the gateway's process,
and its fork bomb stopped at its process limit while the gateway and
another server keep answering.

The account is made for the test (C{useradd}) and removed after; without
root that cannot be done, and the test skips saying so (CI runs as root).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.gateway import waitFor, writeConfig
from tests.integration.sandboxkit import (
    HOSTILE,
    SECRET,
    Account,
    accountOrSkip,
    fakeHome,
    gatewayPythonFor,
    toolCall,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


def test_an_unprivileged_gateway_confines_its_children(account: Account) -> None:
    from mcpgateway.sandbox.probe import bwrapWorks

    python, path = gatewayPythonFor(account)
    found = bwrapWorks()
    if not found["works"]:
        pytest.skip(f"bubblewrap cannot confine here: {found['error']}")
    home = fakeHome(account.home)
    (home / "state").mkdir(mode=0o700)
    workspace = home / "ws"
    workspace.mkdir()
    config = writeConfig(
        home / "servers.json",
        {
            "hostile": {
                "command": python,
                "args": [str(HOSTILE)],
                "cwd": str(workspace),
                "sandbox": {"limits": {"processes": 40}},
            },
            "demo": {"command": python, "args": ["-m", "mcpgateway.demo"]},
        },
    )
    gateway = account.gateway(python, path, config)
    try:
        assert waitFor(lambda: "confined children run in bubblewrap" in gateway.text(), 30), (
            gateway.text()
        )
        url = gateway.url("hostile")
        me = toolCall(url, "whoami")
        assert me["uid"] == account.uid and me["pid"] < 10
        key = toolCall(url, "read", {"path": str(home / ".ssh" / "id_rsa")})
        assert not key["ok"] and SECRET not in str(key)
        assert not toolCall(url, "kill", {"pid": gateway.process.pid})["ok"]
        bomb = toolCall(url, "fork", {"limit": 400, "hold": 20})
        assert not bomb["ok"] and bomb["forked"] <= 40, bomb
        assert "Resource temporarily unavailable" in str(bomb["error"])
        demo = toolCall(gateway.url("demo"), "echo", {"message": "alive"})
        assert demo["text"] == "alive"
        assert gateway.health()["status"]
    finally:
        gateway.stop()
