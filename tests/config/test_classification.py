"""Stateless or stateful: the built-in list, the entry's own mode, and the
overrides file, in that order of precedence (lowest first)."""

from __future__ import annotations

import json
from pathlib import Path

from mcpgateway.config.classification import classify, isBuiltinStateful, loadOverrides
from mcpgateway.core.spec import ServerSpec


def spec(
    name: str,
    command: str = "node",
    args: tuple[str, ...] = (),
    mode: str | None = None,
) -> ServerSpec:
    return ServerSpec(
        name=name,
        command=command,
        args=args,
        mode=mode or "stateless",
        modeDeclared=mode is not None,
    )


def test_builtin_list_matches_names_and_packages() -> None:
    assert isBuiltinStateful(spec("sequential-thinking"))
    assert isBuiltinStateful(
        spec("think", "npx", ("-y", "@modelcontextprotocol/server-sequential-thinking"))
    )
    assert isBuiltinStateful(spec("browser", "npx", ("@playwright/mcp@latest",)))
    assert isBuiltinStateful(spec("code", "uvx", ("--from", "git+https://x/serena", "serena")))
    assert not isBuiltinStateful(spec("search", "npx", ("-y", "@upstash/context7-mcp")))
    assert not isBuiltinStateful(spec("playwrightish"))  # whole words only


def test_precedence(tmp_path: Path) -> None:
    specs = {
        "sequential-thinking": spec("sequential-thinking"),
        "pinned": spec("pinned", mode="stateful"),
        "playwright": spec("playwright"),
        "plain": spec("plain"),
        "declaredStateless": spec("puppeteer", mode="stateless"),
    }
    (tmp_path / "classification.json").write_text(
        json.dumps(
            {
                "playwright": {"mode": "stateless", "requestTimeout": 30000},
                "plain": {"requestTimeout": 5000},
            }
        )
    )
    out = classify(specs, loadOverrides(tmp_path))
    assert out["sequential-thinking"].mode == "stateful"  # built-in
    assert out["pinned"].mode == "stateful"  # the entry's own mode
    assert out["declaredStateless"].mode == "stateless"  # beats the built-in list
    assert out["playwright"].mode == "stateless"  # the overrides file beats all
    assert out["playwright"].requestTimeout == 30.0
    assert (out["plain"].mode, out["plain"].requestTimeout) == ("stateless", 5.0)


def test_invalid_overrides_warn_naming_the_key_and_keep_defaults(tmp_path: Path) -> None:
    (tmp_path / "classification.json").write_text(
        json.dumps(
            {
                "a": {"mode": "sometimes"},
                "b": {"requestTimeout": -1},
                "c": "stateful",
                "d": {"mode": "stateful", "colour": "red"},
            }
        )
    )
    overrides = loadOverrides(tmp_path)
    text = "\n".join(overrides.warnings)
    assert "'a'.mode" in text and "'b'.requestTimeout" in text and "'c'" in text
    assert "colour" in text
    out = classify({"a": spec("a"), "d": spec("d")}, overrides)
    assert out["a"].mode == "stateless" and out["d"].mode == "stateful"


def test_unreadable_overrides_file_is_one_warning(tmp_path: Path) -> None:
    (tmp_path / "classification.json").write_text("{not json")
    overrides = loadOverrides(tmp_path)
    assert len(overrides.warnings) == 1 and "built-in classification kept" in overrides.warnings[0]
    assert loadOverrides(tmp_path / "absent").warnings == []
