# -*- test-case-name: tests.core.aggregate.test_gatewaytools -*-
"""The definitions of the aggregate endpoint's own tools, as C{tools/list}
gives them: C{search}, C{describe}, C{invoke} and C{get_result}.

One job: what a client (and its model) reads of these four tools, their
input and output schemas. L{mcpgateway.core.aggregate.tools.GatewayTools}
answers them; every answer's C{structuredContent} matches the C{outputSchema}
here. An input schema never holds a type list or a combinator at its top
(some model APIs, Gemini's, refuse the whole request then).
"""

from __future__ import annotations

from typing import Any

from mcpgateway.core.tasks.model import STATUSES

__all__ = ["DEFINITIONS", "DESCRIBE_TYPES", "SEARCH_LIMIT", "SEARCH_MAX"]

#: C{search}'s default and largest C{limit}.
SEARCH_LIMIT = 10
SEARCH_MAX = 50

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_READ_ONLY = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}

DEFINITIONS: dict[str, dict[str, Any]] = {
    "search": {
        "name": "search",
        "title": "Search tools",
        "description": (
            "Find tools for a task among all the servers this gateway joins: say what you want "
            "to do in a few words. Best matches first.\n"
            "Then `describe` a result to see its arguments, and `invoke` it."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": 'Like "read a file"; empty: all'},
                "limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_MAX, "default": 10},
                "server": {"type": "string", "description": "Only this server's tools"},
            },
            "required": ["query"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": _STRING,
                            "server": _STRING,
                            "description": _STRING,
                            "score": {"type": "number"},
                            "running": {"type": "boolean"},
                        },
                        "required": ["name", "server", "description", "score", "running"],
                    },
                },
                "total": _INTEGER,
                "unavailable": {
                    "type": "object",
                    "description": "Servers searched whose tools are not known yet, and why",
                    "additionalProperties": _STRING,
                },
            },
            "required": ["results", "total"],
        },
        "annotations": _READ_ONLY,
    },
    "describe": {
        "name": "describe",
        "title": "Describe a tool",
        "description": (
            "Show a tool's whole definition (its inputSchema gives the arguments `invoke` "
            "needs) and its server.\nGive a name `search` returned."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {"name": _STRING},
            "required": ["name"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"name": _STRING, "server": _STRING, "inputSchema": {"type": "object"}},
            "required": ["name", "server", "inputSchema"],
        },
        "annotations": _READ_ONLY,
    },
    "invoke": {
        "name": "invoke",
        "title": "Invoke a tool",
        "description": (
            "Call a tool `search` found, with arguments matching its inputSchema (an object, "
            "or a string of its JSON).\nWrong arguments are refused with a list of what to "
            "fix. The tool's result comes back as it is (a huge one shortened: see `get_result`); "
            "with `async`, a slow tool answers at once with a taskId for `get_result`."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": _STRING,
                # "object" only: a type list makes some model APIs (Gemini) refuse
                # the whole request. A string of the JSON is taken all the same,
                # for strict-mode clients that can only send strings.
                "arguments": {
                    "type": "object",
                    "description": "The tool's arguments (a string of their JSON is taken too)",
                },
                "async": {
                    "type": "boolean",
                    "description": (
                        "Run it as a task: the answer is at once its taskId; `get_result` "
                        "with that taskId gives its status, then its result"
                    ),
                    "default": False,
                },
            },
            "required": ["name"],
        },
        "outputSchema": {
            "type": "object",
            "description": "The tool's own structuredContent ({} if none)",
        },
    },
    "get_result": {
        "name": "get_result",
        "title": "Read a shortened result or a task",
        "description": (
            "Page through a result that was shortened, by the ref it gave, or read a task "
            "`invoke` started (`async`) by its taskId: its status, then its result. Default: its "
            "largest array or text; `path` (dotted) picks another part. `offset`/`limit` count "
            "items or characters; `fields` keeps those keys of each item; `query` keeps "
            "matching items or lines.\nThe answer gives `total` and the `next` offset."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "ref": _STRING,
                "taskId": _STRING,
                "path": _STRING,
                "offset": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1},
                "fields": {"type": "array", "items": _STRING},
                "query": _STRING,
            },
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "ref": _STRING,
                "path": _STRING,
                "total": _INTEGER,
                "offset": _INTEGER,
                "returned": _INTEGER,
                "next": {"type": ["integer", "null"]},
                "taskId": _STRING,
                "status": {"type": "string", "enum": list(STATUSES)},
                "statusMessage": _STRING,
                "pollIntervalMs": _INTEGER,
                "result": {"type": "object", "description": "The tool's whole result"},
                "error": {"type": "object", "description": "Why the task failed"},
                "isError": {"type": "boolean"},
            },
            # A page of a kept result, or a task (whole, or a page of its result).
            "anyOf": [
                {"required": ["ref", "path", "total", "offset", "returned", "next"]},
                {"required": ["taskId", "status"]},
            ],
        },
        "annotations": _READ_ONLY,
    },
}

#: What C{describe} answers must have the type its outputSchema says.
DESCRIBE_TYPES: dict[str, type] = {
    "title": str,
    "description": str,
    "inputSchema": dict,
    "outputSchema": dict,
    "annotations": dict,
}
