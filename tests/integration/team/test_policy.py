"""A Cedar policy on a team gateway, end to end: a real gateway with OAuth
(tests/fixtures/jwt_issuer.py mints the tokens, with their C{groups}
claim), two servers of tests/fixtures/policy_server.py, and the MCP Python
SDK in a 2025 session and as a 2026-07-28 client.

An analyst may call the C{read_*} tools of C{files} only on
C{/data/public}; an admin everything; a principal of no group nothing
(C{--policy-default deny}). A tool the analyst may not call is neither
listed nor callable on C{/files/mcp}, on C{/mcp} (its namespaced name) or
through C{/mcp/search} (C{search} does not find it, C{describe} and
C{invoke} answer it as an unknown tool); a path outside C{/data/public}
is refused naming the policy that decided. A server whose listing errs
is refused the names the gateway cannot vouch for, then listed again. A
changed policy file is in force within seconds; a broken one leaves the last good one in force and
says why on C{/health}. C{mcpgateway policy test} decides the same calls
offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.fixtures.jwt_issuer import JwtIssuer
from tests.integration.gateway import REPO, RunningGateway, oauthGateway, waitFor, writeConfig
from tests.support.mcpclient import Session, bearer

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "policy_server.py"
ERA2026 = "2026-07-28"
MODES = ["legacy", ERA2026]
PUBLIC = {"path": "/data/public/report.csv"}
PRIVATE = {"path": "/data/private/salaries.csv"}

POLICY = """
// Analysts may call the read_* tools of "files", only under /data/public.
@id("analysts-read-public")
permit(principal in Gateway::Group::"analysts", action == Gateway::Action::"tools/call", resource)
when { resource.server == "files" && resource.name like "read_*" };

@id("analysts-public-paths-only")
forbid(principal in Gateway::Group::"analysts", action == Gateway::Action::"tools/call", resource)
when {
  !(context.arguments has path) ||
  !(context.arguments.path like "/data/public/*") || context.arguments.path like "*..*"
};

@id("admins-all")
permit(principal in Gateway::Group::"admins", action, resource);
"""

WRITER = """
@id("analysts-write-x")
permit(principal in Gateway::Group::"analysts", action == Gateway::Action::"tools/call", resource)
when { resource.server == "files" && resource.name == "write_x" };
"""


@dataclass
class Team:
    gateway: RunningGateway
    policy: Path
    analyst: str
    admin: str
    nobody: str

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.gateway.port}{path}"


@contextmanager
def policyGateway(
    home: Path, servers: dict[str, Any], policyText: str, *extra: str
) -> Iterator[tuple[RunningGateway, Path, JwtIssuer, str]]:
    """A team gateway with OAuth (tokens of a L{JwtIssuer}) deciding by
    C{policyText}: the gateway, its policy file, the issuer and the
    resource its tokens are for."""
    config = writeConfig(home / "servers.json", servers)
    policy = home / "team.cedar"
    policy.write_text(policyText)
    with JwtIssuer() as issuer:
        gateway, resource = oauthGateway(home, config, issuer.url, "--policy", str(policy), *extra)
        try:
            yield gateway, policy, issuer, resource
        finally:
            gateway.stop()


@pytest.fixture
def team(home: Path) -> Iterator[Team]:
    server = {"command": sys.executable, "args": [str(FIXTURE)]}
    servers = {"files": server, "other": server}
    with policyGateway(home, servers, POLICY, "--policy-default", "deny") as opened:
        gateway, policy, issuer, resource = opened
        yield Team(
            gateway,
            policy,
            issuer.mint("ann", resource, groups=["analysts"], expiresIn=600),
            issuer.mint("root", resource, "mcp:admin", groups=["admins"], expiresIn=600),
            issuer.mint("nemo", resource, expiresIn=600),
        )


@asynccontextmanager
async def connected(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    """The SDK's client of C{url} with C{token}, in C{mode}."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


async def names(client: Client) -> list[str]:
    return sorted(tool.name for tool in (await client.list_tools()).tools)


async def refusal(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[int, str]:
    """The JSON-RPC error of calling C{tool} (a call that succeeds fails the test)."""
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as e:
        return e.code, e.message
    raise AssertionError(f"{tool} {arguments} was served: {result}")


def listed(team: Team, path: str, token: str, mode: str = "legacy") -> list[str]:
    async def main() -> list[str]:
        async with connected(team.url(path), token, mode) as client:
            return await names(client)

    return anyio.run(main)


@pytest.mark.parametrize("mode", MODES)
def test_the_analyst_sees_and_calls_only_what_the_policy_permits(team: Team, mode: str) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with connected(team.url("/files/mcp"), team.analyst, mode) as files:
            out["listed"] = await names(files)
            out["public"] = textOf(await files.call_tool("read_public", PUBLIC))
            out["secret"] = textOf(await files.call_tool("read_secret", PUBLIC))
            out["write"] = await refusal(files, "write_x", PUBLIC)
            out["unknown"] = await refusal(files, "nosuch", PUBLIC)
            out["private"] = await refusal(files, "read_public", PRIVATE)
            out["climb"] = await refusal(files, "read_public", {"path": "/data/public/../x"})
        async with connected(team.url("/other/mcp"), team.analyst, mode) as other:
            out["other"] = await names(other)
            out["otherCall"] = await refusal(other, "read_public", PUBLIC)
        async with connected(team.url("/mcp"), team.analyst, mode) as aggregate:
            out["aggregate"] = await names(aggregate)
            out["aggregatePublic"] = textOf(await aggregate.call_tool("files__read_public", PUBLIC))
            out["aggregateWrite"] = await refusal(aggregate, "files__write_x", PUBLIC)
            out["aggregateUnknown"] = await refusal(aggregate, "files__nosuch", PUBLIC)
            out["aggregatePrivate"] = await refusal(aggregate, "files__read_public", PRIVATE)
        return out

    out = anyio.run(main)
    assert out["listed"] == ["read_public", "read_secret"], out
    assert out["public"] == f"read_public {json.dumps(PUBLIC)}", out
    assert out["secret"] == f"read_secret {json.dumps(PUBLIC)}", out
    # A tool hidden from the analyst and a tool that does not exist: the same answer.
    assert out["write"] == (
        -32602,
        "tools/call of files/write_x not permitted by policy default-deny",
    )
    assert out["unknown"] == (
        -32602,
        "tools/call of files/nosuch not permitted by policy default-deny",
    )
    # A permitted tool on another path: refused by the policy that forbids it, named.
    assert out["private"][0] == -32602, out
    assert "analysts-public-paths-only" in out["private"][1], out
    assert "/data/private" not in out["private"][1] and "forbid" not in out["private"][1]
    assert "analysts-public-paths-only" in out["climb"][1], out
    assert out["other"] == [], out
    assert "default-deny" in out["otherCall"][1], out
    # Through the aggregate: the member's tools under their namespaced names.
    assert out["aggregate"] == ["files__read_public", "files__read_secret"], out
    assert out["aggregatePublic"] == out["public"], out
    write, unknown = out["aggregateWrite"], out["aggregateUnknown"]
    assert write[0] == unknown[0] == -32602, out
    assert write[1].replace("write_x", "nosuch") == unknown[1], out
    assert "analysts-public-paths-only" in out["aggregatePrivate"][1], out


@pytest.mark.parametrize("mode", MODES)
def test_search_neither_finds_nor_describes_nor_invokes_a_denied_tool(
    team: Team, mode: str
) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with connected(team.url("/mcp/search"), team.analyst, mode) as search:
            found = await search.call_tool("search", {"query": "write x at a path", "limit": 10})
            assert isinstance(found.structured_content, dict), found
            out["found"] = sorted(hit["name"] for hit in found.structured_content["results"])
            for verb, extra in (("describe", {}), ("invoke", {"arguments": PUBLIC})):
                for name in ("files__write_x", "files__nosuch"):
                    result = await search.call_tool(verb, {"name": name, **extra})
                    out[f"{verb} {name}"] = (result.is_error, textOf(result).replace(name, "NAME"))
            described = await search.call_tool("describe", {"name": "files__read_public"})
            out["described"] = described.structured_content
            invoked = await search.call_tool(
                "invoke", {"name": "files__read_public", "arguments": PUBLIC}
            )
            out["invoked"] = textOf(invoked)
            private = await search.call_tool(
                "invoke", {"name": "files__read_public", "arguments": PRIVATE}
            )
            out["private"] = (private.is_error, textOf(private))
        async with connected(team.url("/mcp/search"), team.admin, mode) as search:
            found = await search.call_tool("search", {"query": "write x at a path", "limit": 10})
            assert isinstance(found.structured_content, dict), found
            out["adminFound"] = [hit["name"] for hit in found.structured_content["results"]]
        return out

    out = anyio.run(main)
    # The query finds the tool for whom it may call it (the admin), never for the analyst.
    assert "files__write_x" in out["adminFound"], out
    assert "files__write_x" not in out["found"], out
    assert set(out["found"]) <= {"files__read_public", "files__read_secret"}, out
    for verb in ("describe", "invoke"):
        denied, unknown = out[f"{verb} files__write_x"], out[f"{verb} files__nosuch"]
        assert denied == unknown and denied[0] is True, (verb, out)
    assert out["described"]["name"] == "files__read_public", out
    assert out["invoked"] == f"read_public {json.dumps(PUBLIC)}", out
    assert out["private"][0] is True and "analysts-public-paths-only" in out["private"][1], out


@pytest.mark.parametrize("mode", MODES)
def test_the_admin_calls_everything_and_the_groupless_nothing(team: Team, mode: str) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with connected(team.url("/files/mcp"), team.admin, mode) as files:
            out["listed"] = await names(files)
            out["write"] = textOf(await files.call_tool("write_x", PRIVATE))
            out["secret"] = textOf(await files.call_tool("read_secret", PRIVATE))
        async with connected(team.url("/mcp"), team.admin, mode) as aggregate:
            out["aggregate"] = await names(aggregate)
            out["other"] = textOf(await aggregate.call_tool("other__write_x", PRIVATE))
        async with connected(team.url("/files/mcp"), team.nobody, mode) as files:
            out["nobody"] = await names(files)
            out["nobodyCall"] = await refusal(files, "read_public", PUBLIC)
        async with connected(team.url("/mcp"), team.nobody, mode) as aggregate:
            out["nobodyAggregate"] = [name for name in await names(aggregate) if "__" in name]
        return out

    out = anyio.run(main)
    assert out["listed"] == ["read_public", "read_secret", "write_x"], out
    assert out["write"] == f"write_x {json.dumps(PRIVATE)}", out
    assert out["secret"] == f"read_secret {json.dumps(PRIVATE)}", out
    every = [f"{s}__{t}" for s in ("files", "other") for t in out["listed"]]
    assert [n for n in out["aggregate"] if "__" in n] == every, out
    assert out["other"] == f"write_x {json.dumps(PRIVATE)}", out
    assert out["nobody"] == [] and out["nobodyAggregate"] == [], out
    assert out["nobodyCall"] == (
        -32602,
        "tools/call of files/read_public not permitted by policy default-deny",
    )


def test_a_changed_policy_is_in_force_and_a_broken_one_is_not(team: Team) -> None:
    def policyHealth() -> dict[str, Any]:
        section: dict[str, Any] = team.gateway.health(team.admin)["policy"]
        return section

    assert policyHealth()["error"] is None
    team.policy.write_text(POLICY + WRITER)
    wanted = ["read_public", "read_secret", "write_x"]
    assert waitFor(lambda: listed(team, "/files/mcp", team.analyst) == wanted, timeout=6)
    assert policyHealth()["reloads"] == 1
    assert listed(team, "/files/mcp", team.analyst, ERA2026) == wanted

    team.policy.write_text(POLICY + WRITER + "\npermit(principal, action")
    assert waitFor(lambda: policyHealth()["error"] is not None, timeout=6)
    health = policyHealth()
    assert str(team.policy) in health["error"], health
    assert (health["reloads"], health["policies"]) == (1, 4), health
    # The last good policy stays in force.
    assert listed(team, "/files/mcp", team.analyst) == wanted
    assert "policy file not reloaded, the last good policy stays" in team.gateway.text()


def policyTest(home: Path, call: str, arguments: dict[str, Any]) -> tuple[int, str]:
    """C{mcpgateway policy test} of an analyst's C{call}: exit code, output."""
    policy = home / "team.cedar"
    policy.write_text(POLICY)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgateway.cli",
            "policy",
            "test",
            "--policy",
            str(policy),
            "--principal",
            "analyst",
            "--group",
            "analysts",
            "--call",
            call,
            json.dumps(arguments),
        ],
        env={**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return run.returncode, run.stdout


def test_policy_test_decides_a_call_offline(home: Path) -> None:
    code, out = policyTest(home, "files/read_public", PUBLIC)
    assert code == 0, out
    assert out.splitlines()[0] == "ALLOWED tools/call files/read_public: analysts-read-public"
    code, out = policyTest(home, "files/read_public", PRIVATE)
    assert code == 1, out
    assert out.splitlines()[0] == "DENIED tools/call files/read_public: analysts-public-paths-only"
    code, out = policyTest(home, "files/write_x", PUBLIC)
    assert code == 1, out
    assert out.splitlines()[0] == "DENIED tools/call files/write_x: default-deny"


FORBID_ADMIN_SECRET = (
    POLICY
    + """
@id("nobody-reads-secret")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when { resource.name == "read_secret" };
"""
)


def rawCall(url: str, token: str, name: str) -> dict[str, Any]:
    """A fresh session that never lists: C{initialize}, then C{tools/call}
    of C{name} at once (as a client that cached its tools would)."""
    session = Session(url, headers=bearer(token), name="cached-tools")
    session.open()
    call = {"name": name, "arguments": {"path": "/data/public/x"}}
    answer = session.request("tools/call", call, 2)
    assert isinstance(answer, dict)
    return answer


def test_a_spelling_a_folding_server_would_take_is_refused_before_any_listing(home: Path) -> None:
    """A server that folds names (C{READ_SECRET} runs C{read_secret}) and a
    policy that forbids C{read_secret}: a session that calls without ever
    listing still meets the refusal, because the gateway lists the child
    before it lets a name it decided through."""
    server = {
        "command": sys.executable,
        "args": [str(FIXTURE)],
        "env": {"POLICY_FIXTURE_FOLDS": "1"},
        "share": "session",
    }
    with policyGateway(home, {"files": server}, FORBID_ADMIN_SECRET) as opened:
        _, _, issuer, resource = opened
        admin = issuer.mint("root", resource, "mcp:admin", groups=["admins"], expiresIn=600)
        url = f"{resource}/files/mcp"
        for spelling in ("READ_SECRET", "read\u200bsecret"):
            error = rawCall(url, admin, spelling)["error"]
            assert error == {"code": -32602, "message": f"Unknown tool: {spelling}"}
        served = rawCall(url, admin, "read_public")["result"]["content"][0]["text"]
        assert served.startswith("read_public ")


def test_a_server_whose_listing_errs_is_refused_what_it_cannot_vouch_for(home: Path) -> None:
    """The same folding server and policy, its first C{tools/list} erring:
    C{READ_SECRET} is refused, saying the listing failed and how, rather
    than forwarded; the server is not silently unusable: a later call lists
    it again, and is served."""
    server = {
        "command": sys.executable,
        "args": [str(FIXTURE)],
        "env": {"POLICY_FIXTURE_FOLDS": "1", "POLICY_FIXTURE_LIST_FAILS": "1"},
        "share": "session",
    }
    with policyGateway(home, {"files": server}, FORBID_ADMIN_SECRET) as opened:
        gateway, _, issuer, resource = opened
        admin = issuer.mint("root", resource, "mcp:admin", groups=["admins"], expiresIn=600)
        session = Session(f"{resource}/files/mcp", headers=bearer(admin), name="cached-tools")
        session.open()
        secret = {"name": "READ_SECRET", "arguments": {"path": "/data/public/x"}}
        error = session.request("tools/call", secret, 2)["error"]
        assert error["code"] == -32000, error
        assert error["message"].startswith(
            "tools/call of 'READ_SECRET' refused: server 'files' could not list its tools"
            " (its tools/list failed with error -32603: the catalog is down)"
        ), error
        public = {"name": "read_public", "arguments": {"path": "/data/public/x"}}
        answers: list[Any] = []

        def served() -> bool:
            """A call of C{read_public}: refused within the wait, served after it."""
            answers.append(session.request("tools/call", public))
            return "result" in answers[-1]

        assert waitFor(served, timeout=30.0, interval=0.2), answers
        assert answers[-1]["result"]["content"][0]["text"].startswith("read_public ")
        assert all("catalog is down" in a["error"]["message"] for a in answers[:-1]), answers
        again = session.request("tools/call", secret)["error"]
        assert again == {"code": -32602, "message": "Unknown tool: READ_SECRET"}
        assert "its tools/list could not be listed whole" in gateway.text()
