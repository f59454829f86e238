"""What tests/web/endpoints/test_scopes_web.py shares with the other tests: KEY_A,
SECRET, UNKNOWN, initialize, scopedHarness, variant."""

from __future__ import annotations

from dataclasses import replace

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.keyedplacement import KeyedPlacement
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.spec import ServerSpec, Variant
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, Response, spec
from tests.support.web.api import initializeBody

KEY_A = "a" * 16
KEY_B = "b" * 16
UNKNOWN = "c" * 16
SECRET = b"s" * 32


def variant(base: ServerSpec, key: str, cwd: str) -> Variant:
    return Variant(key, replace(base, cwd=cwd), f"child-{key or 'global'}")


def scopedHarness(credentialEnv: tuple[str, ...] = ()) -> Harness:
    h = Harness()
    base = replace(spec("fs"), mode="workspace", credentialEnv=credentialEnv)
    fs = replace(
        base,
        variants=(
            variant(base, "", "/"),
            variant(base, KEY_A, "/work/a"),
            variant(base, KEY_B, "/work/b"),
        ),
    )
    h.reactor = FakeProcessReactor()
    h.gateway = Gateway({"srv": spec("srv"), "fs": fs}, fakeSpawner(h.reactor), lazyStart=False)
    assert isinstance(h.gateway.pools["fs"], ServerPool) and isinstance(
        h.gateway.pools["fs"].placement, KeyedPlacement
    )
    h.site = makeSite(h.gateway, h.reactor, loopbackOnly=True, keys=WorkspaceKeys(SECRET))
    return h


def initialize(h: Harness, path: str, headers: dict[str, str] | None = None) -> Response:
    response = h.request(
        "POST",
        path,
        initializeBody(),
        headers=headers,
    )
    if not response.complete and h.reactor.processes:
        h.answerHandshake()
    return response
