"""The MCP POST's pipeline: its steps built from what is configured, and a
laptop's C{tools/call} running none of the steps it has no use for."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from twisted.internet.task import Clock

from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.tasks.manager import TaskManager
from mcpgateway.core.tasks.store import TaskStore
from mcpgateway.governance.gate import PolicyGate
from mcpgateway.governance.quotagate import QuotaGate
from mcpgateway.web.endpoints.admission import PostAdmission
from mcpgateway.web.endpoints.mcp import McpEndpoint
from mcpgateway.web.root import GatewayRoot
from tests.http import Harness, spec
from tests.support.filesrun import filesRun

CALL = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo"}}

IDLE_ON_A_LAPTOP = (
    "web/endpoints/admission.py",
    "web/endpoints/auditnote.py",
    "web/endpoints/backends.py",
    "web/endpoints/credentialcheck.py",
    "web/endpoints/answers.py",
    "web/endpoints/endpointforwarder.py",
    "web/endpoints/era2026.py",
    "web/plumbing/requestcontext.py",
    "governance/quotagate.py",
    "governance/gate.py",
)
"""Modules a laptop's tools/call has nothing to do in."""


def endpoint(h: Harness) -> McpEndpoint:
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    found = root._endpoint("srv")
    assert found is not None
    return found


def test_a_laptops_tools_call_runs_no_step_it_has_no_use_for() -> None:
    h = Harness()
    session = h.initialize("srv")
    proc = h.process()

    def call() -> None:
        response = h.request("POST", "/srv/mcp", CALL, session=session)
        sent = [m for m in proc.sentMessages() if m.get("method") == "tools/call"][-1]
        proc.reply({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
        assert response.json() == {"jsonrpc": "2.0", "id": 5, "result": {"content": []}}

    call()  # warmed up: what runs once (a first listing, a cache) is not counted
    ran = filesRun(call)
    assert "web/endpoints/mcppost.py" in ran
    assert ran.isdisjoint(IDLE_ON_A_LAPTOP), sorted(ran & set(IDLE_ON_A_LAPTOP))
    assert endpoint(h).posts.gates == ()
    assert not endpoint(h).posts.doors


def test_the_gates_are_the_configured_ones_in_order() -> None:
    h = Harness()
    mcp = endpoint(h)
    posts = mcp.posts
    admission = cast(Any, mcp)._admission
    assert isinstance(admission, PostAdmission)
    mcp.callQuotas = cast(QuotaGate, object())
    assert list(posts.gates) == [admission.callQuotas]
    mcp.requestPolicy = cast(PolicyGate, object())
    assert list(posts.gates) == [admission.policy, admission.callQuotas]
    assert posts.screens
    mcp.callQuotas = None
    mcp.requestPolicy = None
    assert list(posts.gates) == [] and not posts.screens


def test_a_team_surface_set_later_is_configured_at_the_next_request() -> None:
    """The root gives an endpoint the team surface's parts at each request:
    a quota set after the endpoint was made is its first gate from then on."""
    h = Harness()
    session = h.initialize("srv")
    mcp = endpoint(h)
    assert mcp.posts.gates == () and not mcp.doors
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    root.team.quota = Quota()
    h.request("POST", "/srv/mcp", {"jsonrpc": "2.0", "method": "notifications/x"}, session=session)
    assert mcp.doors and mcp.posts.doors
    # The endpoint was made without a quota: only a new one has the gate.
    assert mcp.posts.gates == ()


class Quota:
    def admit(self, principal: str, requests: int = 1) -> float | None:
        return None

    def release(self, principal: str, requests: int = 1) -> None:
        pass


def tasksHarness(**servers: ServerSpec) -> Harness:
    """A gateway with tasks, as every running gateway has: its endpoints'
    backend serves gateway-made tasks between them and the pool."""
    tasks = TaskManager(TaskStore(None, now=lambda: 1_800_000_000.0), Clock())
    return Harness(servers or None, tasks=tasks)


def oneCall(h: Harness, session: str, headers: dict[str, str] | None = None) -> Any:
    """One C{tools/call} of C{session}, answered by the child: the answer."""
    proc = h.process()
    response = h.request("POST", "/srv/mcp", CALL, session=session, headers=headers)
    sent = [m for m in proc.sentMessages() if m.get("method") == "tools/call"]
    if sent:
        proc.reply({"jsonrpc": "2.0", "id": sent[-1]["id"], "result": {"content": []}})
    return response.json()


def test_with_tasks_a_server_without_credential_env_checks_no_credentials() -> None:
    """Tasks put a feature between the endpoint and the pool; whether the
    credential headers are read is still the server entry's to say."""
    h = tasksHarness()
    session = h.initialize("srv")
    oneCall(h, session)
    ran = filesRun(lambda: oneCall(h, session))
    assert "web/endpoints/credentialcheck.py" not in ran


def test_with_tasks_a_server_with_credential_env_checks_them() -> None:
    h = tasksHarness(srv=replace(spec("srv"), credentialEnv=("TOKEN",)))
    session = h.initialize("srv")
    oneCall(h, session)
    ran = filesRun(lambda: oneCall(h, session))
    assert "web/endpoints/credentialcheck.py" in ran


def test_a_reloaded_entry_that_takes_credentials_has_them_checked() -> None:
    """The entry is read as it is now: a reload that adds C{credentialEnv}
    to a server's entry has the next request's headers checked, whether
    the endpoint calls its pool at once (no tasks) or through its backend."""
    h = Harness()
    session = h.initialize("srv")
    oneCall(h, session)
    pool = h.gateway.pools["srv"]
    pool.useSpec(replace(pool.spec, credentialEnv=("TOKEN",)))
    ran = filesRun(lambda: oneCall(h, session))
    assert "web/endpoints/credentialcheck.py" in ran
