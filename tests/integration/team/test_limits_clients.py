"""Rate limits as the real SDK clients see them: the Python SDK (a 2025
session and a 2026-07-28 client) and the TypeScript SDK get the refusal of
a call over the limit with its retry time, and the same call after that
time succeeds; a 2026-07-28 call that asks its client for input (retry
rounds with C{requestState}) counts once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.continuitykit import tsEnvironment
from tests.integration.gateway import REPO, RunningGateway

pytestmark = pytest.mark.integration
TS_LIMITS = Path(__file__).parents[1] / "clients" / "ts_limits.mjs"
ERA_FIXTURE = REPO / "tests" / "fixtures" / "era_server.py"
ERA2026 = "2026-07-28"
LIMITS = {"principalTool": {"calls": "60/min", "burst": 2}}


def limitedConfig(home: Path, limits: dict[str, Any], **servers: Any) -> Path:
    path = home / "servers.json"
    demo = {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}
    path.write_text(json.dumps({"limits": limits, "mcpServers": {"demo": demo, **servers}}))
    return path


def pythonCalls(url: str, mode: str) -> dict[str, Any]:
    from mcp import Client
    from mcp.shared.exceptions import MCPError

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {"answers": []}
        async with Client(url, mode=mode) as client:
            for n in range(3):
                try:
                    result = await client.call_tool("echo", {"message": f"m{n}"})
                except MCPError as e:
                    out["error"] = {"code": e.code, "message": e.message, "data": e.data}
                    break
                out["answers"].append(result.content[0].text)  # type: ignore[union-attr]
            if "error" in out:
                await anyio.sleep(out["error"]["data"]["retryAfterMs"] / 1000 + 0.05)
                again = await client.call_tool("echo", {"message": "again"})
                out["retried"] = again.content[0].text  # type: ignore[union-attr]
        return out

    return anyio.run(main)


def checkRefusal(error: dict[str, Any]) -> None:
    assert error["code"] == -32023, error
    assert 0 < error["data"]["retryAfterMs"] <= 1000, error
    assert error["data"]["limit"] == "limits.principalTool"
    assert error["data"]["scope"] == "principal-tool"
    assert "retry in 1 s" in error["message"]


@pytest.mark.parametrize("mode", ["legacy", ERA2026])
def test_python_sdk_sees_the_refusal_and_its_retry_time(start: Any, home: Path, mode: str) -> None:
    gateway: RunningGateway = start("--config", str(limitedConfig(home, LIMITS)))
    out = pythonCalls(gateway.url("demo"), mode)
    assert out["answers"] == ["m0", "m1"]
    checkRefusal(out["error"])
    assert out["retried"] == "again"


def test_typescript_sdk_sees_the_refusal_and_its_retry_time(start: Any, home: Path) -> None:
    env = tsEnvironment()
    gateway: RunningGateway = start("--config", str(limitedConfig(home, LIMITS)))
    run = subprocess.run(
        ["node", str(TS_LIMITS), gateway.url("demo"), "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["answers"] == ["m0", "m1"]
    # The TypeScript SDK surfaces an HTTP 429 as a StreamableHTTPError
    # whose code is the status and whose message carries the body: the
    # JSON-RPC error, its retry time included, as text.
    error = out["error"]
    assert (error["name"], error["code"]) == ("StreamableHTTPError", 429), error
    body = json.loads(error["message"].split("Error POSTing to endpoint: ", 1)[1])
    checkRefusal(body["error"])
    assert out["retried"] == "again"


def test_a_2026_call_asking_for_input_counts_once(start: Any, home: Path) -> None:
    from mcp import Client, types

    era = {"command": sys.executable, "args": [str(ERA_FIXTURE)], "share": "global"}
    limits = {"principalTool": {"calls": "1/h", "burst": 1}}
    gateway: RunningGateway = start("--config", str(limitedConfig(home, limits, era=era)))

    async def answer(context: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"answer": "yes"})

    async def main() -> tuple[str, int]:
        async with Client(gateway.url("era"), mode=ERA2026, elicitation_callback=answer) as client:
            result = await client.call_tool("ask_user", {"label": "a", "nonce": "n"})
            first = result.content[0]
            assert isinstance(first, types.TextContent)
            from mcp.shared.exceptions import MCPError

            try:
                await client.call_tool("ask_user", {"label": "a", "nonce": "n2"})
            except MCPError as e:
                return first.text, e.code
            return first.text, 0

    text, code = anyio.run(main)
    assert "yes" in text
    assert code == -32023  # the second call is over: the first's rounds counted once
