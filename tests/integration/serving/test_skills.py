"""The Skills extension (SEP-2640) end to end: the fixture server written
from the extension's text (tests/fixtures/skills_server.py) behind real
gateways, asked over plain HTTP (the Python SDK has no skills support) on
both revisions: its own route (a shared handshake child, a child per
session, a 2026-only child) and C{/mcp} with two of them, where every
server's skills are one listing under namespaced C{skill://} URIs whose
digests still verify; and the official conformance scenarios of the
extension on both."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import CACHE
from tests.integration.gateway import REPO, RunningGateway, writeConfig
from tests.support.mcpclient import Client2026, Session

pytestmark = pytest.mark.integration
FIXTURE = REPO / "tests" / "fixtures" / "skills_server.py"
EXTENSION = "io.modelcontextprotocol/skills"
ERA2026 = "2026-07-28"
HANDSHAKE = "2025-11-25"


class Handshake(Session):
    """A 2025-11-25 session of C{url}, opened with C{initialize}."""

    def __init__(self, url: str) -> None:
        super().__init__(url, HANDSHAKE, name="skills-test")
        self.initialize = self.open()

    def request(
        self, method: str, params: dict[str, Any] | None = None, requestId: Any = None
    ) -> Any:
        reply = self.send(method, params or {}, requestId)
        assert reply.status == 200, reply.answer
        return reply.answer


def era2026(url: str, method: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One 2026-07-28 request (no session): (status, answer)."""
    reply = Client2026(url, name="skills-test").send(method, params or {}, requestId=1)
    return reply.status, reply.answer


def fixture(label: str, *args: str, **entry: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(FIXTURE), label, *args], **entry}


def checkServerRoute(url: str, era2026Child: bool = False) -> None:
    """Both revisions on one server route: the extension declared, the
    three methods answered by the child, errors as the SEP says."""
    session = Handshake(url)
    assert session.initialize["capabilities"]["extensions"] == {EXTENSION: {"directoryRead": True}}
    listed = session.request("skills/list")["result"]
    uris = [skill["uri"] for skill in listed["skills"]]
    assert uris == [
        "skill://acme/billing/refunds/SKILL.md",
        "skill://git-workflow/SKILL.md",
        "skill://reports/daily/SKILL.md",
    ]
    got = session.request("skills/get", {"uri": "skill://git-workflow/SKILL.md"})["result"]
    assert got["skill"] == listed["skills"][1]
    unknown = session.request("skills/get", {"uri": "skill://nope/SKILL.md"})
    assert unknown["error"]["code"] == -32602
    children = session.request(
        "resources/directory/read", {"uri": "skill://acme/billing/refunds/templates"}
    )["result"]["resources"]
    assert children == [
        {
            "uri": "skill://acme/billing/refunds/templates/regional",
            "name": "regional",
            "mimeType": "inode/directory",
        }
    ]

    status, discovered = era2026(url, "server/discover")
    assert status == 200, discovered
    assert discovered["result"]["capabilities"]["extensions"][EXTENSION] == {"directoryRead": True}
    status, answer = era2026(url, "skills/list")
    assert status == 200, answer
    result = answer["result"]
    assert result["resultType"] == "complete"
    assert [skill["uri"] for skill in result["skills"]] == uris
    assert isinstance(result["ttlMs"], int) and result["cacheScope"] in ("public", "private")
    status, answer = era2026(url, "skills/get", {"uri": "skill://acme/billing/refunds/SKILL.md"})
    assert status == 200, answer
    assert answer["result"]["skill"] == listed["skills"][0]
    assert "ttlMs" in answer["result"] and "cacheScope" in answer["result"]
    status, answer = era2026(url, "skills/get", {"uri": "skill://nope/SKILL.md"})
    assert answer["error"]["code"] == -32602, answer
    status, answer = era2026(
        url, "resources/directory/read", {"uri": "skill://acme/billing/refunds"}
    )
    assert status == 200, answer
    names = {child["name"]: child["mimeType"] for child in answer["result"]["resources"]}
    assert names == {
        "SKILL.md": "text/markdown",
        "examples": "inode/directory",
        "templates": "inode/directory",
    }


def test_a_shared_handshake_child_serves_skills_on_both_revisions(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"skills": fixture("one")})
    gateway: RunningGateway = start("--config", str(config))
    checkServerRoute(gateway.url("skills"))
    assert gateway.health()["servers"]["skills"]["children"] == 1


def listsTheSkills(url: str) -> None:
    """A session on C{url} is offered the extension and lists the fixture's three skills."""
    session = Handshake(url)
    assert session.initialize["capabilities"]["extensions"] == {EXTENSION: {"directoryRead": True}}
    listed = session.request("skills/list")["result"]["skills"]
    assert [skill["frontmatter"]["name"] for skill in listed] == [
        "refunds",
        "git-workflow",
        "daily",
    ]


def test_a_child_per_session_serves_skills(start: Any, home: Path) -> None:
    config = writeConfig(home / "servers.json", {"skills": fixture("one", share="session")})
    gateway: RunningGateway = start("--config", str(config))
    listsTheSkills(gateway.url("skills"))


def test_a_era2026_only_child_serves_skills_on_both_revisions(start: Any, home: Path) -> None:
    config = writeConfig(
        home / "servers.json", {"skills": fixture("one", "--era2026", era="era2026")}
    )
    gateway: RunningGateway = start("--config", str(config))
    checkServerRoute(gateway.url("skills"), era2026Child=True)


def test_a_remote_server_serves_skills_on_both_revisions(start: Any, home: Path) -> None:
    """A remote server (here another gateway's route of the fixture): shared
    by every session, both revisions; a session's own, 2025 sessions."""
    first: RunningGateway = start(
        "--config", str(writeConfig(home / "servers.json", {"skills": fixture("one")}))
    )
    (home / "second").mkdir()
    remote = {"type": "http", "url": first.url("skills")}
    config = writeConfig(
        home / "second" / "servers.json",
        {"shared": {**remote, "share": "global"}, "own": remote},
    )
    second: RunningGateway = start(
        "--config", str(config), env={"MCPGATEWAY_HOME": str(home / "second")}
    )
    checkServerRoute(second.url("shared"))
    listsTheSkills(second.url("own"))


def conformanceRun(conformance: list[str], home: Path, url: str, revision: str) -> str:
    """The extension's three server scenarios against C{url} on C{revision}:
    their output, once every check passed (none failed)."""
    outputs = []
    for scenario in (
        "sep-2640-skills-enumeration",
        "sep-2640-skills-manifest",
        "sep-2640-skills-directory",
    ):
        proc = subprocess.run(
            [
                *conformance,
                "server",
                "--url",
                url,
                "--scenario",
                scenario,
                "--spec-version",
                revision,
                "--force",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=home,
        )
        output = proc.stdout + proc.stderr
        summary = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)
        assert summary, output[-6000:]
        assert int(summary.group(3)) == 0 and int(summary.group(1)) > 0, output[-6000:]
        outputs.append(output)
    joined = "\n".join(outputs)
    wanted = ["sep-2640-directory-read-subdir-mimetype", "sep-2640-entry-frontmatter-identical"]
    if revision == ERA2026:
        wanted += ["sep-2640-skills-list-cache-attributes", "sep-2640-skills-get-cache-attributes"]
    for check in wanted:  # run, not skipped
        assert re.search(rf"\[{check}\s*\]\s*\S*SUCCESS", joined), check
    return joined


@pytest.mark.parametrize("revision", [HANDSHAKE, ERA2026])
def test_the_conformance_scenarios_pass_on_a_server_route(
    start: Any, home: Path, conformance: list[str], revision: str
) -> None:
    config = writeConfig(home / "servers.json", {"skills": fixture("one")})
    gateway: RunningGateway = start("--config", str(config))
    conformanceRun(conformance, home, f"http://localhost:{gateway.port}/skills/mcp", revision)


def twoServers(home: Path, *args: str) -> Path:
    return writeConfig(
        home / "servers.json", {"one": fixture("one", *args), "other": fixture("other", *args)}
    )


def checkVerified(read: Any, listed: list[dict[str, Any]]) -> None:
    """Every file of every listed skill, read through C{read(uri)}, has the
    size and digest its entry gives, under the URI the entry gives."""
    for skill in listed:
        if skill["resources"] == "dynamic":
            continue
        for item in skill["resources"]:
            contents = read(item["uri"])
            assert [c["uri"] for c in contents] == [item["uri"]]
            data = contents[0]["text"].encode("utf-8")
            assert len(data) == item["size"], item
            assert "sha256:" + hashlib.sha256(data).hexdigest() == item["digest"], item


def test_two_servers_skills_on_the_aggregate_endpoint(start: Any, home: Path) -> None:
    """C{/mcp} with two servers that both serve C{skill://git-workflow}:
    one listing, namespaced by server, digests as each server gave them
    (and still true of what a read through C{/mcp} returns), on both
    revisions."""
    gateway: RunningGateway = start("--config", str(twoServers(home)))
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    own = {
        server: Handshake(gateway.url(server)).request("skills/list")["result"]["skills"]
        for server in ("one", "other")
    }
    session = Handshake(url)
    assert session.initialize["capabilities"]["extensions"][EXTENSION] == {"directoryRead": True}
    listed = session.request("skills/list")["result"]["skills"]
    expected = [
        {
            **skill,
            "uri": skill["uri"].replace("skill://", f"skill://{server}/"),
            "resources": skill["resources"]
            if skill["resources"] == "dynamic"
            else [
                {**item, "uri": item["uri"].replace("skill://", f"skill://{server}/")}
                for item in skill["resources"]
            ],
        }
        for server in ("one", "other")
        for skill in own[server]
    ]
    assert listed == expected
    assert "skill://one/git-workflow/SKILL.md" in [s["uri"] for s in listed]
    assert "skill://other/git-workflow/SKILL.md" in [s["uri"] for s in listed]
    checkVerified(
        lambda uri: session.request("resources/read", {"uri": uri})["result"]["contents"], listed
    )
    got = session.request("skills/get", {"uri": "skill://other/pdf-processing/SKILL.md"})
    assert got["result"]["skill"] == next(
        s for s in listed if s["uri"] == "skill://other/pdf-processing/SKILL.md"
    )
    assert (
        session.request("skills/get", {"uri": "skill://one/pdf-processing/SKILL.md"})["error"][
            "code"
        ]
        == -32602
    )
    assert (
        session.request("skills/get", {"uri": "skill://git-workflow/SKILL.md"})["error"]["code"]
        == -32602
    )
    children = session.request(
        "resources/directory/read", {"uri": "skill://one/acme/billing/refunds"}
    )["result"]["resources"]
    assert sorted(c["uri"] for c in children) == [
        "skill://one/acme/billing/refunds/SKILL.md",
        "skill://one/acme/billing/refunds/examples",
        "skill://one/acme/billing/refunds/templates",
    ]
    resources = session.request("resources/list")["result"]["resources"]
    assert "skill://other/git-workflow/SKILL.md" in [r["uri"] for r in resources]

    status, discovered = era2026(url, "server/discover")
    assert status == 200, discovered
    assert discovered["result"]["capabilities"]["extensions"][EXTENSION] == {"directoryRead": True}
    status, answer = era2026(url, "skills/list")
    assert status == 200, answer
    assert answer["result"]["skills"] == expected
    assert answer["result"]["resultType"] == "complete"
    assert answer["result"]["ttlMs"] == 0 and answer["result"]["cacheScope"] == "public"

    def read2026(uri: str) -> Any:
        status, answer = era2026(url, "resources/read", {"uri": uri})
        assert status == 200, answer
        return answer["result"]["contents"]

    checkVerified(read2026, expected)
    status, answer = era2026(url, "skills/get", {"uri": "skill://one/git-workflow/SKILL.md"})
    assert answer["result"]["skill"]["uri"] == "skill://one/git-workflow/SKILL.md", answer
    status, answer = era2026(
        url, "resources/directory/read", {"uri": "skill://other/acme/billing/refunds/templates"}
    )
    assert answer["result"]["resources"] == [
        {
            "uri": "skill://other/acme/billing/refunds/templates/regional",
            "name": "regional",
            "mimeType": "inode/directory",
        }
    ], answer


def test_a_listing_is_kept_for_its_ttl(start: Any, home: Path) -> None:
    """Servers that say their skills stay fresh 60 s are listed once for
    two listings of C{/mcp}; the listing says so (C{ttlMs})."""
    gateway: RunningGateway = start("--config", str(twoServers(home, "--ttl", "60000")))
    url = f"http://127.0.0.1:{gateway.port}/mcp"
    first = Handshake(url).request("skills/list")["result"]
    status, second = era2026(url, "skills/list")
    assert status == 200, second
    assert second["result"]["skills"] == first["skills"]
    assert second["result"]["ttlMs"] == 60000
    direct = Handshake(gateway.url("one")).request("skills/list")["result"]
    assert direct["_meta"]["fixture/listings"] == 2  # the aggregate's one, and this one


@pytest.mark.parametrize("revision", [HANDSHAKE, ERA2026])
def test_the_conformance_scenarios_pass_on_the_aggregate_endpoint(
    start: Any, home: Path, conformance: list[str], revision: str
) -> None:
    gateway: RunningGateway = start("--config", str(twoServers(home)))
    conformanceRun(conformance, home, f"http://localhost:{gateway.port}/mcp", revision)


def test_search_finds_skills_as_it_finds_tools(start: Any, home: Path) -> None:
    """The gateway's C{search} (C{/mcp/search}) gives the members' skills
    its words match beside the tools, on both revisions."""
    gateway: RunningGateway = start("--config", str(twoServers(home)))
    url = f"http://127.0.0.1:{gateway.port}/mcp/search"
    arguments = {"query": "refund requests", "limit": 5}
    session = Handshake(url)
    answer = session.request("tools/call", {"name": "search", "arguments": arguments})
    found = answer["result"]["structuredContent"]["skills"]
    assert [(s["uri"], s["server"], s["name"]) for s in found] == [
        ("skill://one/acme/billing/refunds/SKILL.md", "one", "refunds"),
        ("skill://other/acme/billing/refunds/SKILL.md", "other", "refunds"),
    ]
    assert found[0]["score"] == 1.0
    status, answer = era2026(url, "tools/call", {"name": "search", "arguments": arguments})
    assert status == 200, answer
    assert answer["result"]["structuredContent"]["skills"] == found
    pdf = {"name": "search", "arguments": {"query": "pdf", "server": "other"}}
    skills = session.request("tools/call", pdf)["result"]["structuredContent"]["skills"]
    assert [s["uri"] for s in skills] == ["skill://other/pdf-processing/SKILL.md"]


TS_SKILLS = Path(__file__).parents[1] / "clients" / "ts_skills.mjs"


@pytest.fixture(scope="module")
def tsClient() -> dict[str, str]:
    """The environment of the TypeScript SDK 2.x client (its package from the
    npm test backends); skips when Node.js is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not found: the TypeScript client test needs them")
    paths = CACHE / "paths.env"
    if not paths.is_file():
        subprocess.run(
            [str(REPO / "scripts" / "install-test-backends"), "--quiet"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "MCPGATEWAY_TEST_CACHE": str(CACHE)},
        )
    pairs = (line.split("=", 1) for line in paths.read_text().splitlines() if "=" in line)
    found = {key: value.strip() for key, value in pairs}
    package = Path(found.get("TS_CLIENT2_DIR", ""))
    assert (package / "dist" / "ext" / "skills" / "index.mjs").is_file(), found
    return {**os.environ, "TS_CLIENT2_DIR": str(package)}


def tsSkills(env: dict[str, str], url: str, mode: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(TS_SKILLS), url, mode], env=env, capture_output=True, text=True, timeout=90
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output (exit {done.returncode}):\n{done.stderr}"
    said: dict[str, Any] = json.loads(lines[-1])
    assert said["ok"], f"{said}\n{done.stderr}"
    return said


@pytest.mark.parametrize("mode", ["handshake", "pin"])
def test_the_typescript_sdk_verifies_every_skill_through_the_aggregate(
    start: Any, home: Path, tsClient: dict[str, str], mode: str
) -> None:
    """The SDK's own SkillsClient lists C{/mcp}'s skills and reads every file
    of each: the size, digest and frontmatter of each verify under the
    namespaced URIs."""
    gateway: RunningGateway = start("--config", str(twoServers(home)))
    said = tsSkills(tsClient, f"http://127.0.0.1:{gateway.port}/mcp", mode)
    assert said["supported"] and said["directoryRead"] and said["invalid"] == []
    assert len(said["skills"]) == 7
    assert "skill://other/acme/billing/refunds/templates/regional/eu.md" in said["verified"]
    assert len(said["verified"]) == 2 * 4 + 2
    assert said["dynamic"] == [
        "skill://one/reports/daily/SKILL.md",
        "skill://other/reports/daily/SKILL.md",
    ]
    assert said["got"] == "skill://one/acme/billing/refunds/SKILL.md"
    assert sorted(said["children"]) == [
        "skill://one/acme/billing/refunds/SKILL.md",
        "skill://one/acme/billing/refunds/examples",
        "skill://one/acme/billing/refunds/templates",
    ]
    if mode == "pin":
        assert said["ttlMs"] == 0 and said["cacheScope"] == "public"
