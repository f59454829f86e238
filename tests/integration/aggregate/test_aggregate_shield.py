"""Response shielding end to end (tests/fixtures/big_result_server.py
behind C{/mcp/search}): a 10 MB text comes back as at most 64 KiB naming a
ref, C{get_result} pages rebuild the exact 10 MB (sha256), each page within
the budget, and no other session can read the ref; a 20,000-record
structured result is cut and stays valid against its outputSchema, while
one whose schema forbids cutting is left whole and the note says so.
"""

from __future__ import annotations

import hashlib
import json
import runpy
import sys
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import mcp.types as types
import pytest
from mcp import Client

from tests.http import initializeMessage
from tests.integration.gateway import REPO, RunningGateway, writeConfig
from tests.support.integration.aggregate_shield import VERSION, post

pytestmark = pytest.mark.integration

BIG = REPO / "tests" / "fixtures" / "big_result_server.py"
BUDGET = 64 * 1024
CHARS = 10_000_000
PAGE = 30_000
"""Characters asked per get_result page: the page's text is in its
structuredContent and again in its JSON text, so 2 x 30,000 fits 64 KiB."""
PARALLEL = 8
META = "mcpgateway/shielded"


def bigConfig(home: Path) -> Path:
    return writeConfig(
        home / "servers.json", {"big": {"command": sys.executable, "args": [str(BIG)]}}
    )


def bigText(chars: int) -> str:
    """What big_text answers (the fixture's own function)."""
    return runpy.run_path(str(BIG))["bigText"](chars)  # type: ignore[no-any-return]


def compactSize(result: types.CallToolResult) -> int:
    """The bytes of the result's compact JSON, as the shield counts them."""
    dumped = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    dumped.pop("resultType", None)
    return len(json.dumps(dumped, separators=(",", ":"), ensure_ascii=False).encode())


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


def test_ten_megabytes_come_back_shielded_and_page_back_to_every_byte(
    start: Any, home: Path
) -> None:
    gateway: RunningGateway = start("--config", str(bigConfig(home)))
    url = f"http://127.0.0.1:{gateway.port}/mcp/search"

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(url, mode="legacy") as client:
            shielded = await client.call_tool("invoke", {"name": "big__big_text", "arguments": {}})
            out["size"] = compactSize(shielded)
            meta = (shielded.meta or {}).get(META)
            assert isinstance(meta, dict), shielded.meta
            ref = out["ref"] = meta["ref"]
            out["note"] = [c.text for c in shielded.content if isinstance(c, types.TextContent)]
            pages: dict[int, str] = {}
            sizes: list[int] = []
            nexts: dict[int, int | None] = {}

            async def read(offset: int) -> None:
                page = await client.call_tool(
                    "get_result",
                    {"ref": ref, "path": "content.0.text", "offset": offset, "limit": PAGE},
                )
                assert not page.is_error, page
                body = page.structured_content
                assert isinstance(body, dict) and body["offset"] == offset, body
                assert body["total"] == CHARS, body
                pages[offset], nexts[offset] = body["text"], body["next"]
                sizes.append(compactSize(page))

            # The pages are read a few at a time (one session, calls in parallel).
            offsets = list(range(0, CHARS, PAGE))
            for first in range(0, len(offsets), PARALLEL):
                async with anyio.create_task_group() as group:
                    for offset in offsets[first : first + PARALLEL]:
                        group.start_soon(read, offset)
            out["pages"] = [pages[offset] for offset in offsets]
            out["nexts"] = [nexts[offset] for offset in offsets]
            out["largest"] = max(sizes)
            found = await client.call_tool(
                "get_result", {"ref": ref, "path": "content.0.text", "query": "00123456 the"}
            )
            out["query"] = found.structured_content
            small = await client.call_tool("invoke", {"name": "big__small", "arguments": {}})
            out["small"] = (textOf(small), (small.meta or {}).get(META))

            # Another session, on the same endpoint, cannot read this ref.
            async with Client(url, mode="legacy") as other:
                stolen = await other.call_tool("get_result", {"ref": ref})
                out["other"] = (stolen.is_error, textOf(stolen))
            again = await client.call_tool(
                "get_result", {"ref": ref, "path": "content.0.text", "limit": 10}
            )
            out["again"] = (again.is_error, (again.structured_content or {}).get("text"))
        return out

    out = anyio.run(main)
    assert out["size"] <= BUDGET, out["size"]
    assert out["ref"] in out["note"][-1] and "get_result" in out["note"][-1], out["note"]
    rebuilt = "".join(out["pages"])
    assert len(rebuilt) == CHARS
    assert out["nexts"] == [*range(PAGE, CHARS, PAGE), None], out["nexts"][-3:]
    expected = hashlib.sha256(bigText(CHARS).encode()).hexdigest()
    assert hashlib.sha256(rebuilt.encode()).hexdigest() == expected
    assert len(out["pages"]) == -(-CHARS // PAGE)
    assert out["largest"] <= BUDGET, out["largest"]
    assert out["query"]["items"] == ["00123456 the quick brown fox jumps over the lazy dog"]
    assert out["small"] == ("a small result", None), out["small"]
    assert out["other"][0] is True and out["ref"] in out["other"][1], out["other"]
    assert out["again"] == (False, rebuilt[:10]), out["again"]


def test_structured_records_are_cut_validly_or_left_whole(start: Any, home: Path) -> None:
    gateway: RunningGateway = start("--config", str(bigConfig(home)))
    url = f"http://127.0.0.1:{gateway.port}/mcp/search"
    answer, sid = post(
        url,
        initializeMessage(VERSION, {}, {"name": "raw", "version": "1"}, requestId=0),
    )
    assert "result" in answer and sid
    post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    ids = iter(range(1, 100))

    def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        message = {
            "jsonrpc": "2.0",
            "id": next(ids),
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        response, _ = post(url, message, sid)
        assert "result" in response, response
        return response["result"]  # type: ignore[no-any-return]

    def schemaOf(tool: str) -> dict[str, Any]:
        described = call("describe", {"name": tool})["structuredContent"]
        return described["outputSchema"]  # type: ignore[no-any-return]

    many = call("invoke", {"name": "big__many_records", "arguments": {}})
    exact = call("invoke", {"name": "big__exact_records", "arguments": {}})
    manySize = len(json.dumps(many, separators=(",", ":"), ensure_ascii=False).encode())
    records = many["structuredContent"]["records"]
    ref = many["_meta"][META]["ref"]
    page = call(
        "get_result",
        {
            "ref": ref,
            "path": "structuredContent.records",
            "offset": 19_990,
            "limit": 10,
            "fields": ["id", "status"],
        },
    )["structuredContent"]

    # The cuttable one: within the budget, shortened, still valid.
    assert manySize <= BUDGET, (manySize, many["content"][-1]["text"])
    assert 0 < len(records) < 20_000, len(records)
    jsonschema.validate(many["structuredContent"], schemaOf("big__many_records"))
    assert page["total"] == 20_000 and page["next"] is None, page
    assert page["items"] == [
        {"id": i, "status": ("open", "closed", "pending")[i % 3]} for i in range(19_990, 20_000)
    ], page
    # The one whose schema wants all 20,000: whole, valid, and the note says so.
    assert len(exact["structuredContent"]["records"]) == 20_000
    jsonschema.validate(exact["structuredContent"], schemaOf("big__exact_records"))
    assert "structuredContent left whole" in exact["content"][-1]["text"], exact["content"][-1]
