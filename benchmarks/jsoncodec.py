#!/usr/bin/env python3
"""``mcpgateway.protocol.jsonrpc.loads``/``dumps`` with orjson and with the standard library.

Times the gateway's real message shapes (a ``tools/call`` request, its echo
answer, a ``tools/list`` answer of about 10 KB, a 200 KB text result) through
``jsonrpc.loads`` and ``jsonrpc.dumps`` with the fast path on (orjson, when it is
installed) and off (``jsonrpc.useFast(False)``: the standard library), and the
bare ``json``/``orjson`` calls beside them for scale. ``--baseline FILE`` adds
another copy of ``protocol/jsonrpc.py`` (``git show HEAD~1:mcpgateway/protocol/jsonrpc.py >
/tmp/old.py``) as the variant ``baseline``.

The variants are interleaved (each round times every variant on one shape
and direction, one after the other, in an order rotated each round), so a
noisy machine slows them alike; every round is reported with the median.
Standard library only, plus orjson if it is installed.

Usage: jsoncodec.py [--rounds R] [--seconds S] [--baseline FILE] [--markdown]
(prints one JSON document, or a table with ``--markdown``)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE)]

from mcpgateway.protocol import jsonrpc  # noqa: E402

try:
    import orjson
except ImportError:
    orjson = None  # type: ignore[assignment]


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


Tool = tuple[str, str, dict[str, Any], list[str]]
"""A tool as (name, description, its schema's properties, the required ones)."""


def _filesystemTools() -> list[Tool]:
    """The filesystem server's tools: its file tools, then its directory tools."""
    return _fileTools() + _directoryTools()


def _fileTools() -> list[Tool]:
    """The filesystem server's tools that read and write files."""
    path = _string("Path to the file or directory, absolute or relative to an allowed root")
    edits = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "oldText": _string("Text to search for - must match exactly"),
                "newText": _string("Text to replace with"),
            },
            "required": ["oldText", "newText"],
            "additionalProperties": False,
        },
    }
    return [
        (
            "read_text_file",
            "Read the complete contents of a file from the file system as text. "
            "Handles various text encodings and provides detailed error messages if the file "
            "cannot be read. Use the 'head' parameter to read only the first N lines of a file, "
            "or the 'tail' parameter to read only the last N lines of a file. Only works within "
            "allowed directories.",
            {
                "path": path,
                "tail": {
                    "type": "number",
                    "description": "If provided, returns only the last N lines of the file",
                },
                "head": {
                    "type": "number",
                    "description": "If provided, returns only the first N lines of the file",
                },
            },
            ["path"],
        ),
        (
            "read_multiple_files",
            "Read the contents of multiple files simultaneously. This is "
            "more efficient than reading files one by one when you need to analyze or compare "
            "multiple files. Each file's content is returned with its path as a reference. "
            "Failed reads for individual files won't stop the entire operation.",
            {"paths": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
            ["paths"],
        ),
        (
            "write_file",
            "Create a new file or completely overwrite an existing file with new "
            "content. Use with caution as it will overwrite existing files without warning. "
            "Handles text content with proper encoding.",
            {"path": path, "content": _string("The complete new content of the file")},
            ["path", "content"],
        ),
        (
            "edit_file",
            "Make line-based edits to a text file. Each edit replaces exact line "
            "sequences with new content. Returns a git-style diff showing the changes made.",
            {
                "path": path,
                "edits": edits,
                "dryRun": {
                    "type": "boolean",
                    "default": False,
                    "description": "Preview changes using git-style diff format",
                },
            },
            ["path", "edits"],
        ),
    ]


def _directoryTools() -> list[Tool]:
    """The filesystem server's tools on directories and metadata."""
    path = _string("Path to the file or directory, absolute or relative to an allowed root")
    return [
        (
            "create_directory",
            "Create a new directory or ensure a directory exists. Can create "
            "multiple nested directories in one operation.",
            {"path": path},
            ["path"],
        ),
        (
            "list_directory",
            "Get a detailed listing of all files and directories in a "
            "specified path. Results clearly distinguish between files and directories with "
            "[FILE] and [DIR] prefixes.",
            {"path": path},
            ["path"],
        ),
        (
            "directory_tree",
            "Get a recursive tree view of files and directories as a JSON "
            "structure. Each entry includes 'name', 'type' (file/directory), and 'children' for "
            "directories.",
            {
                "path": path,
                "excludePatterns": {"type": "array", "items": {"type": "string"}, "default": []},
            },
            ["path"],
        ),
        (
            "move_file",
            "Move or rename files and directories. Can move files between "
            "directories and rename them in a single operation. If the destination exists, the "
            "operation will fail.",
            {"source": path, "destination": path},
            ["source", "destination"],
        ),
        (
            "search_files",
            "Recursively search for files and directories matching a pattern. "
            "Searches through all subdirectories from the starting path. The search is "
            "case-insensitive and matches partial names.",
            {
                "path": path,
                "pattern": _string("Glob pattern to match"),
                "excludePatterns": {"type": "array", "items": {"type": "string"}, "default": []},
            },
            ["path", "pattern"],
        ),
        (
            "get_file_info",
            "Retrieve detailed metadata about a file or directory. Returns "
            "comprehensive information including size, creation time, last modified time, "
            "permissions, and type.",
            {"path": path},
            ["path"],
        ),
    ]


def _gitTools() -> list[Tool]:
    """The git server's tools."""
    repo = _string("Path to the Git repository")
    return [
        ("git_status", "Shows the working tree status", {"repo_path": repo}, ["repo_path"]),
        (
            "git_diff_unstaged",
            "Shows changes in the working directory that are not yet staged",
            {"repo_path": repo, "context_lines": {"type": "integer", "default": 3}},
            ["repo_path"],
        ),
        (
            "git_commit",
            "Records changes to the repository",
            {"repo_path": repo, "message": _string("Commit message")},
            ["repo_path", "message"],
        ),
        (
            "git_log",
            "Shows the commit logs",
            {
                "repo_path": repo,
                "max_count": {"type": "integer", "default": 10},
                "start_timestamp": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "default": None,
                    "description": "Start timestamp for "
                    "filtering commits. Accepts: ISO 8601 format, relative dates "
                    "or absolute dates",
                },
            },
            ["repo_path"],
        ),
        (
            "git_create_branch",
            "Creates a new branch from an optional base branch",
            {
                "repo_path": repo,
                "branch_name": _string("Name of the new branch"),
                "base_branch": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            },
            ["repo_path", "branch_name"],
        ),
    ]


def _tools() -> list[dict[str, Any]]:
    """A realistic tool list: the filesystem and git servers' tools, with the
    JSON Schemas their SDKs generate."""
    tools = _filesystemTools() + _gitTools()
    out = []
    for name, description, properties, required in tools:
        out.append(
            {
                "name": name,
                "description": description,
                "inputSchema": _schema(properties, required),
                "annotations": {
                    "readOnlyHint": name.startswith(
                        (
                            "read",
                            "list",
                            "get",
                            "search",
                            "directory",
                            "git_status",
                            "git_log",
                            "git_diff",
                        )
                    ),
                    "title": name.replace("_", " ").title(),
                },
            }
        )
    return out


def _logText(size: int) -> str:
    """About C{size} characters of a server's log, as a tool that reads a file returns."""
    lines = []
    n = 0
    total = 0
    while total < size:
        n += 1
        line = (
            f"2025-06-18T12:{n // 60 % 60:02d}:{n % 60:02d}.{n * 37 % 1000:03d}Z [INFO] "
            f"worker-{n % 8} handled GET /api/items/{n * 7919 % 100000} in "
            f"{n * 13 % 997 / 10:.1f} ms (cache={'hit' if n % 3 else 'miss'}, "
            f'user="caf\u00e9-{n % 50}")\n'
        )
        lines.append(line)
        total += len(line)
    return "".join(lines)


def shapes() -> dict[str, bytes]:
    """Each shape's wire bytes, as a client or a child sends them."""
    request = {
        "jsonrpc": "2.0",
        "id": 4242,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"message": "hello from the benchmark"},
            "_meta": {"progressToken": 4242},
        },
    }
    echo = {
        "jsonrpc": "2.0",
        "id": 4242,
        "result": {"content": [{"type": "text", "text": "Echo: hello from the benchmark"}]},
    }
    tools = {"jsonrpc": "2.0", "id": 2, "result": {"tools": _tools()}}
    text = {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"content": [{"type": "text", "text": _logText(200_000)}], "isError": False},
    }
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return {
        name: encode(value).encode("utf-8")
        for name, value in [
            ("tools/call request", request),
            ("echo response", echo),
            ("tools/list response", tools),
            ("200 KB text result", text),
        ]
    }


def _loadModule(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("jsonrpc_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Variant:
    """One way to load and dump: C{enter} is called before its measurements."""

    def __init__(
        self,
        name: str,
        loads: Callable[[bytes], Any],
        dumps: Callable[[Any], bytes],
        enter: Callable[[], object] = lambda: None,
    ) -> None:
        self.name, self.loads, self.dumps, self.enter = name, loads, dumps, enter


def variants(baseline: str | None) -> list[Variant]:
    out = [Variant("stdlib", jsonrpc.loads, jsonrpc.dumps, lambda: jsonrpc.useFast(False))]
    if orjson is not None:
        out.append(Variant("orjson", jsonrpc.loads, jsonrpc.dumps, lambda: jsonrpc.useFast(True)))
    if baseline:
        old = _loadModule(baseline)
        out.append(Variant("baseline", old.loads, old.dumps))
    compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    out.append(Variant("bare json", json.loads, lambda value: compact(value).encode("utf-8")))
    if orjson is not None:
        out.append(Variant("bare orjson", orjson.loads, orjson.dumps))
    return out


def timeOne(function: Callable[[Any], Any], argument: Any, seconds: float) -> float:
    """Microseconds per call of C{function(argument)}, over about C{seconds}."""
    calls = 1
    while True:  # find a count that takes a tenth of the time
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        spent = time.perf_counter() - start
        if spent >= seconds / 10:
            break
        calls *= 4
    calls = max(1, int(calls * seconds / max(spent, 1e-9)))
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        spent = time.perf_counter() - start
    finally:
        gc.enable()
    return spent / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--seconds",
        type=float,
        default=0.05,
        help="time per measurement (one variant, one shape, one direction)",
    )
    ap.add_argument(
        "--baseline", help="another protocol/jsonrpc.py to time as the variant 'baseline'"
    )
    ap.add_argument("--markdown", action="store_true", help="print a table instead of JSON")
    args = ap.parse_args()
    data = shapes()
    values = {name: json.loads(raw) for name, raw in data.items()}
    chosen = variants(args.baseline)
    # Every variant must read and write the same values (and the same bytes, but
    # for float formatting: these shapes have no floats).
    for variant in chosen:
        variant.enter()
        for name, raw in data.items():
            assert variant.loads(raw) == values[name], (variant.name, name)
            assert json.loads(variant.dumps(values[name])) == values[name], (variant.name, name)
    rounds: dict[str, dict[str, dict[str, list[float]]]] = {
        name: {"loads": {v.name: [] for v in chosen}, "dumps": {v.name: [] for v in chosen}}
        for name in data
    }
    for r in range(args.rounds):
        order = chosen[r % len(chosen) :] + chosen[: r % len(chosen)]
        for name, raw in data.items():
            for op in ("loads", "dumps"):
                for variant in order:  # side by side: a slow spell hits them alike
                    variant.enter()
                    if op == "loads":
                        spent = timeOne(variant.loads, raw, args.seconds)
                    else:
                        spent = timeOne(variant.dumps, values[name], args.seconds)
                    rounds[name][op][variant.name].append(spent)
    jsonrpc.useFast(True)
    result = {
        "python": platform.python_version(),
        "orjson": getattr(orjson, "__version__", None),
        "rounds": args.rounds,
        "unit": "microseconds per call",
        "shapes": {
            name: {
                "bytes": len(data[name]),
                **{
                    op: {
                        v: {
                            "median": round(statistics.median(times), 2),
                            "rounds": [round(t, 2) for t in times],
                        }
                        for v, times in per.items()
                    }
                    for op, per in rounds[name].items()
                },
            }
            for name in data
        },
    }
    if not args.markdown:
        print(json.dumps(result, indent=1))
        return
    names = [v.name for v in chosen]
    print(
        f"Python {result['python']}, orjson {result['orjson']}, {args.rounds} interleaved "
        "rounds; µs per call, median (every round)\n"
    )
    print("| shape | op | " + " | ".join(names) + " |")
    print("|---|---|" + "---:|" * len(names))
    for name, entry in result["shapes"].items():
        for op in ("loads", "dumps"):
            cells = []
            for v in names:
                m = entry[op][v]
                cells.append(f"**{m['median']:g}** ({', '.join(f'{t:g}' for t in m['rounds'])})")
            print(f"| {name} ({entry['bytes']:,} B) | {op} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
