"""Data-origin labels in the config (L{mcpgateway.flow.labels}): an entry's
C{"labels"} reaches its spec, a bad one skips the entry as an invalid entry
saying why; an override in C{servers.json} (C{servers edit}) replaces the
entry's; C{servers.json}'s C{"flow"} turns the default rule off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.config.servers import parseConfig
from mcpgateway.config.serversedit import EditError, apply, editOf
from mcpgateway.config.serversfile import ServersFile, flowSettings
from mcpgateway.flow.labels import EntryLabels, Label
from mcpgateway.flow.rule import FlowSettings
from mcpgateway.runtime import paths

ENVIRON = {"PATH": ""}
P, E = Label.PRIVATE, Label.EGRESS


def load(entry: dict[str, Any]) -> Any:
    return parseConfig({"mcpServers": {"s": entry}}, "/h/.claude.json", ENVIRON, "user")


def test_an_entrys_labels_reach_its_spec() -> None:
    loaded = load(
        {"command": "c", "labels": {"server": ["private"], "tools": {"post": ["egress"]}}}
    )
    assert loaded.servers["s"].labels == EntryLabels(
        server=frozenset({P}), tools=(("post", frozenset({E})),)
    )
    assert load({"command": "c"}).servers["s"].labels == EntryLabels()


def test_an_entry_with_labels_that_cannot_be_used_is_an_invalid_entry() -> None:
    loaded = load({"command": "c", "labels": ["secret"]})
    assert loaded.servers == {}
    [invalid] = loaded.invalid
    assert (invalid.server, invalid.scope) == ("s", "user scope")
    assert (
        invalid.why
        == "'labels' has the unknown label 'secret': labels are untrusted, private, egress"
    )
    assert loaded.warnings == [f"server 's' (user scope): {invalid.why}; skipped"]


def test_an_override_replaces_the_entrys_labels_and_a_bad_one_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / paths.SERVERS_FILE).write_text(
        json.dumps(
            {
                "mcpServers": {},
                "overrides": {"a": {"labels": []}, "b": {"labels": {"tools": 1}}},
            }
        )
    )
    loaded = parseConfig(
        {
            "mcpServers": {
                "a": {"command": "c", "labels": ["private"]},
                "b": {"command": "c", "labels": ["egress"]},
            }
        },
        "test.json",
        ENVIRON,
    )
    merged = ServersFile(tmp_path).merge(loaded)
    assert merged.servers["a"].labels == EntryLabels(server=frozenset())
    assert merged.servers["b"].labels == EntryLabels(server=frozenset({E}))
    assert any(
        "'b': 'labels.tools' must be an object" in w and w.endswith("; ignored")
        for w in merged.warnings
    ), merged.warnings


def test_servers_edit_sets_the_labels_of_an_adopted_server() -> None:
    data: dict[str, Any] = {"mcpServers": {}, "overrides": {}, "projects": {}}
    kind, _ = apply(data, "gh", editOf(['labels={"tools": {"get_*": ["private"]}}'], []), ENVIRON)
    assert kind == "override"
    assert data["overrides"] == {"gh": {"labels": {"tools": {"get_*": ["private"]}}}}
    with pytest.raises(EditError, match="'labels' has the unknown label 'out'"):
        apply(data, "gh", editOf(['labels=["out"]'], []), ENVIRON)


def test_the_flow_setting_of_servers_json(tmp_path: Path) -> None:
    assert flowSettings(tmp_path) == FlowSettings(default=True)  # no file
    file = tmp_path / paths.SERVERS_FILE
    file.write_text(json.dumps({"mcpServers": {}}))
    assert flowSettings(tmp_path) == FlowSettings(default=True)
    file.write_text(json.dumps({"flow": {"default": False}}))
    assert flowSettings(tmp_path) == FlowSettings(default=False)
    file.write_text(json.dumps({"flow": {"default": "no"}}))
    with pytest.raises(ValueError) as raised:
        flowSettings(tmp_path)
    assert str(raised.value) == f"{file}: 'flow.default' must be true or false"
    file.write_text("{not json")
    assert flowSettings(tmp_path) == FlowSettings(default=True)  # its load says why
