"""Tests for L{mcpgateway.core.aggregate.schemas}: argument and structuredContent
checks with a lazily imported jsonschema."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from typing import Any

import pytest
from hypothesis import given, settings

from mcpgateway.core.aggregate.schemas import MAX_ERRORS, Schemas
from tests.support.json_values import jsonScalars, jsonValues

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "count": {"type": "integer", "minimum": 0},
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
    },
    "required": ["path"],
    "additionalProperties": False,
}

JSON = jsonValues(jsonScalars(20), items=4, entries=4, leaves=20)


def test_valid_arguments_have_no_errors() -> None:
    assert Schemas().arguments(SCHEMA, {"path": "/tmp/x", "count": 2}) == []


def test_errors_name_the_path_and_the_problem() -> None:
    errors = Schemas().arguments(
        SCHEMA, {"count": -1, "entities": [{"name": "a"}, {"nam": "b"}], "extra": 1}
    )
    assert "arguments: 'path' is a required property" in errors
    assert "count: -1 is less than the minimum of 0" in errors
    assert "entities.1: 'name' is a required property" in errors
    assert any(e.startswith("arguments: Additional properties are not allowed") for e in errors)
    # shallow errors first
    assert errors.index("entities.1: 'name' is a required property") == len(errors) - 1


def test_wrong_type_of_the_whole() -> None:
    assert Schemas().arguments(SCHEMA, ["path"]) == ["arguments: ['path'] is not of type 'object'"]


def test_at_most_ten_lines_the_last_says_how_many_more() -> None:
    schema = {
        "type": "object",
        "properties": {f"p{i}": {"type": "integer"} for i in range(25)},
    }
    errors = Schemas().arguments(schema, {f"p{i}": "x" for i in range(25)})
    assert len(errors) == MAX_ERRORS
    assert errors[-1] == "… and 16 more errors"


def test_a_long_instance_is_cut_in_the_message() -> None:
    errors = Schemas().arguments({"type": "integer"}, "x" * 10_000)
    assert len(errors) == 1 and len(errors[0]) <= 300 and errors[0].endswith("…")


def test_structured() -> None:
    schemas = Schemas()
    assert schemas.structured(SCHEMA, {"path": "a"}) is True
    assert schemas.structured(SCHEMA, {"path": ""}) is False
    assert schemas.structured(SCHEMA, {}) is False


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 12},  # not a valid schema
        {"type": "object", "properties": {"a": {"minimum": "zero"}}},
        {"$ref": "#/$defs/missing"},  # unresolvable inside itself
        "not a schema",
        {"type": "object", "default": float("nan"), "x": {1, 2}},  # not JSON at all
    ],
)
def test_unusable_schema(schema: Any) -> None:
    schemas = Schemas()
    assert schemas.arguments(schema, {"a": 1}) == []
    assert schemas.structured(schema, {"a": 1}) is None


def test_no_remote_ref_is_ever_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        fetched.append(args)
        raise AssertionError("a schema check went to the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    schemas = Schemas()
    remote = {
        "type": "object",
        "properties": {"a": {"$ref": "https://example.com/schemas/thing.json"}},
    }
    assert schemas.arguments(remote, {"a": 1}) == []
    assert schemas.structured(remote, {"a": 1}) is None
    assert schemas.structured({"$ref": "http://127.0.0.1:9/x.json"}, 1) is None
    assert fetched == []


def test_local_refs_resolve() -> None:
    schema = {
        "$defs": {"name": {"type": "string"}},
        "type": "object",
        "properties": {"who": {"$ref": "#/$defs/name"}},
    }
    schemas = Schemas()
    assert schemas.arguments(schema, {"who": "x"}) == []
    assert schemas.arguments(schema, {"who": 1}) == ["who: 1 is not of type 'string'"]


def test_the_schema_picks_its_draft() -> None:
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    schemas = Schemas()
    assert schemas.structured(draft4, 5) is False
    assert schemas.structured(draft4, 4) is True
    # The same keywords are not a valid 2020-12 schema (the default).
    del draft4["$schema"]
    assert schemas.structured(draft4, 5) is None


def test_formats_are_not_enforced() -> None:
    assert Schemas().arguments({"type": "string", "format": "email"}, "not an email") == []


def test_compiled_once_and_bounded() -> None:
    schemas = Schemas(cacheSize=2)
    for _ in range(3):
        schemas.arguments(SCHEMA, {"path": "a"})
    assert schemas.compiled == 1
    same = json.loads(json.dumps(SCHEMA))  # an equal copy hits the cache
    schemas.structured(same, {"path": "a"})
    assert schemas.compiled == 1
    schemas.structured({"type": "string"}, "a")
    schemas.structured({"type": "integer"}, 1)
    schemas.structured(SCHEMA, {"path": "a"})  # evicted: compiled again
    assert schemas.compiled == 4


def test_jsonschema_is_imported_only_at_the_first_check() -> None:
    code = (
        "import sys\n"
        "import mcpgateway.core.aggregate.schemas, mcpgateway.core.aggregate.tools\n"
        "assert 'jsonschema' not in sys.modules, 'imported early'\n"
        "s = mcpgateway.core.aggregate.schemas.Schemas()\n"
        "assert s.arguments({'type': 'string'}, 1)\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@settings(max_examples=60, deadline=None)
@given(value=JSON)
def test_any_value_gets_a_short_list_of_strings(value: Any) -> None:
    schemas = Schemas()
    for schema in (SCHEMA, {"type": "array", "items": {"type": "integer"}}, {}):
        errors = schemas.arguments(schema, value)
        assert len(errors) <= MAX_ERRORS
        assert all(isinstance(e, str) and len(e) <= 300 for e in errors)
        assert (errors == []) == schemas.structured(schema, value)
