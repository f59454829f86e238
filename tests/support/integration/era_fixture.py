"""What a client session must see of the era fixture
(C{tests/fixtures/era_server.py}) when it runs the scenario the era client
tests give every client, direct on the fixture's route or through the
aggregate C{/mcp}: its lists, and its own answers."""

from __future__ import annotations

import json
from typing import Any

import mcp.types as types

from tests.support.sdkcallers import textOf

README = "The era fixture: one child, every client era."
"""The text of the fixture's one resource, C{era://notes/readme}."""

TOOLS = ["ask_model", "ask_user", "count", "outcomes", "plain_ask"]
"""The fixture's tools, by name, sorted."""


def answersOf(
    read: types.ReadResourceResult,
    prompt: types.GetPromptResult,
    count: types.CallToolResult,
    model: types.CallToolResult,
    user: types.CallToolResult,
) -> dict[str, Any]:
    """A Python SDK session's answers to the scenario, under the keys the
    TypeScript clients report them by (what L{checkEraAnswers} reads): the
    readme it read, the greeting it got, and the texts of its count, of
    the model's answer (sampling) and of the user's (elicitation)."""
    contents = read.contents[0]
    message = prompt.messages[0].content
    return {
        "read": getattr(contents, "text", None),
        "prompt": message.text if isinstance(message, types.TextContent) else None,
        "count": textOf(count),
        "model": textOf(model),
        "user": textOf(user),
    }


def checkEraLists(result: dict[str, Any]) -> None:
    """The fixture's own lists, unprefixed: its tools, its one resource,
    its one prompt."""
    assert result["tools"] == TOOLS, result
    assert result["resources"] == ["era://notes/readme"], result
    assert result["prompts"] == ["greet"], result


def checkEraAnswers(result: dict[str, Any], label: str, nonce: str, progress: str) -> None:
    """What a session labelled C{label}, asking with C{nonce}, must have been
    given: the readme, its own greeting, its count with its own progress
    only (the list under the key C{progress}), the model's and the user's
    answers to its own questions; and its callbacks were asked those
    questions alone."""
    assert result["read"] == README, result
    assert result["prompt"] == f"Hello, {label}!", result
    assert result["count"] == "counted 3", result
    assert result[progress] == [1, 2, 3], result
    asked = f"{label} {nonce}"
    assert result["model"] == f"model said: {label} answers {asked}", result
    answer = json.dumps({"answer": f"{label} says {asked}"})
    assert result["user"] == f"user said: accept {answer}", result
    assert result["seen"] == {"sampling": [asked], "elicitation": [asked]}, result
