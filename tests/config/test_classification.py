"""Who shares a server's children: the default, the built-in list, the
entry's own share (or mode), promotions and the overrides file, in that order
of precedence (lowest first)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mcpgateway.config.classification import (
    Override,
    classify,
    isBuiltinSession,
    isBuiltinStateful,
    loadOverrides,
    resolve,
)
from mcpgateway.config.promotions import PromotedServer
from mcpgateway.config.servers import parseEntry
from mcpgateway.core.spec import ServerSpec, ToolFilter, shareOf
from mcpgateway.startup import wiring


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
        mode=shareOf(mode).value if mode else "global",
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


@pytest.mark.parametrize(
    ("name", "command", "args"),
    [
        ("everything", "npx", ("-y", "@modelcontextprotocol/server-everything")),
        (
            "e",
            "node",
            ("/cache/node_modules/@modelcontextprotocol/server-everything/dist/index.js",),
        ),
        ("b", "npx", ("@browsermcp/mcp@latest",)),
        ("b", "npx", ("@executeautomation/playwright-mcp-server",)),
        ("b", "npx", ("-y", "@modelcontextprotocol/server-puppeteer")),
        ("b", "npx", ("-y", "@browserbasehq/mcp-server-browserbase")),
        ("b", "uvx", ("browser-use",)),
        ("b", "npx", ("-y", "@angiejones/mcp-selenium")),
    ],
)
def test_servers_that_talk_back_or_drive_a_browser_are_on_the_list(
    name: str, command: str, args: tuple[str, ...]
) -> None:
    """Server-everything (sampling), browser automation."""
    assert isBuiltinSession(spec(name, command, args))
    assert (
        classify({name: spec(name, command, args)}, loadOverrides(Path("/nonexistent")))[name].mode
        == "session"
    )


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
    assert out["sequential-thinking"].mode == "session"  # built-in
    assert out["pinned"].mode == "session"  # the entry's own mode
    assert out["declaredStateless"].mode == "global"  # beats the built-in list
    assert out["playwright"].mode == "global"  # the overrides file beats all
    assert out["playwright"].pinned and not out["plain"].pinned
    assert out["playwright"].requestTimeout == 30.0
    assert (out["plain"].mode, out["plain"].requestTimeout) == ("global", 5.0)


def test_precedence_with_promotions_and_defaults() -> None:
    """classification.json > promotions.json > the entry > the built-in list > the default."""
    promoted = PromotedServer("it sampled with 2 sessions in flight", 1.0)
    assert resolve(spec("a"), None, None).mode == "global"
    assert resolve(spec("a"), None, None, default="workspace").mode == "workspace"
    assert resolve(spec("playwright"), None, None, default="workspace").mode == "session"
    declared = spec("playwright", mode="credential")
    assert resolve(declared, None, None).mode == "credential"
    out = resolve(declared, None, promoted)
    assert (out.mode, out.promoted, out.pinned) == ("session", promoted.why, False)
    out = resolve(declared, Override(share="workspace"), promoted)
    assert (out.mode, out.promoted, out.pinned) == ("workspace", None, True)
    out = resolve(spec("a"), Override(share="global", maxChildren=3), promoted)
    assert (out.mode, out.promoted, out.pinned, out.maxChildren) == ("global", None, True, 3)
    promotedSpecs = classify({"a": spec("a")}, loadOverrides(Path("/nonexistent")), {"a": promoted})
    assert promotedSpecs["a"].mode == "session" and promotedSpecs["a"].promoted == promoted.why


def test_credential_env_makes_a_wider_share_credential() -> None:
    """An entry with C{credentialEnv} has a child per set of
    credential values; where the precedence says global or workspace (the
    default, a pin), its scope is credential, so /health says what it gets.
    Session (built in, declared, pinned or promoted) stays session."""
    promoted = PromotedServer("it sampled with 2 sessions in flight", 1.0)
    cred = replace(spec("gh"), credentialEnv=("TOKEN",))
    assert resolve(cred).mode == "credential"
    assert resolve(cred, default="workspace").mode == "credential"
    pinned = resolve(cred, Override(share="global"))
    assert (pinned.mode, pinned.pinned) == ("credential", True)
    assert resolve(cred, Override(share="workspace")).mode == "credential"
    assert resolve(cred, Override(share="session")).mode == "session"
    assert resolve(cred, None, promoted).mode == "session"
    assert resolve(replace(spec("playwright"), credentialEnv=("T",))).mode == "session"
    assert resolve(replace(cred, mode="session", modeDeclared=True)).mode == "session"
    assert resolve(spec("plain")).mode == "global"  # no credentialEnv: as before


def test_overrides_file_share_and_mode_word(tmp_path: Path) -> None:
    (tmp_path / "classification.json").write_text(
        json.dumps(
            {
                "a": {"share": "credential", "maxChildren": 4},
                "b": {"mode": "stateful"},
                "c": {"share": "workspace", "mode": "stateless"},
            }
        )
    )
    overrides = loadOverrides(tmp_path)
    assert overrides.warnings == []
    assert overrides.servers["a"] == Override("credential", None, 4)
    assert overrides.servers["b"].share == "session"
    assert overrides.servers["b"].mode == "stateful"  # the older word, for the CLI
    assert overrides.servers["c"].share == "workspace"  # "share" wins


def test_invalid_overrides_warn_naming_the_key_and_keep_defaults(tmp_path: Path) -> None:
    (tmp_path / "classification.json").write_text(
        json.dumps(
            {
                "a": {"mode": "sometimes"},
                "b": {"requestTimeout": -1},
                "c": "stateful",
                "d": {"mode": "stateful", "colour": "red"},
                "e": {"share": "everyone", "maxChildren": 0},
                "f": {"requestTimeout": 10**400, "maxChildren": True},
                "g": {"requestTimeout": 86_400_001},
            }
        )
    )
    overrides = loadOverrides(tmp_path)
    text = "\n".join(overrides.warnings)
    assert "'a'.mode" in text and "'b'.requestTimeout" in text and "'c'" in text
    assert "colour" in text
    assert "'e'.share" in text and "'e'.maxChildren" in text
    assert "'f'.requestTimeout" in text and "'f'.maxChildren" in text
    assert "'g'.requestTimeout must be a positive number of milliseconds, at most 86400000" in text
    assert overrides.servers["f"] == Override()
    out = classify({"a": spec("a"), "d": spec("d"), "e": spec("e")}, overrides)
    assert out["a"].mode == "global" and out["d"].mode == "session"
    assert out["e"].mode == "global" and not out["e"].pinned


def test_per_user_in_the_overrides_file_wins_over_the_entry(tmp_path: Path) -> None:
    (tmp_path / "classification.json").write_text(
        json.dumps(
            {
                "on": {"perUser": True},
                "off": {"perUser": False, "share": "workspace"},
                "bad": {"perUser": "yes"},
            }
        )
    )
    overrides = loadOverrides(tmp_path)
    assert overrides.servers["on"] == Override(perUser=True)
    assert overrides.servers["off"] == Override("workspace", perUser=False)
    assert overrides.servers["bad"] == Override()
    [warning] = overrides.warnings
    assert "'bad'.perUser must be true or false" in warning
    entryOn = ServerSpec(name="off", command="c", perUser=True)
    out = classify({"on": spec("on"), "off": entryOn, "bad": entryOn}, overrides)
    assert out["on"].perUser and out["on"].perPrincipal
    assert not out["off"].perUser and out["off"].mode == "workspace"
    assert out["bad"].perUser  # the entry's own, the bad line ignored
    assert resolve(entryOn, Override(share="global")).perUser  # no perUser line: the entry's


def test_unreadable_overrides_file_is_one_warning(tmp_path: Path) -> None:
    (tmp_path / "classification.json").write_text("{not json")
    overrides = loadOverrides(tmp_path)
    assert len(overrides.warnings) == 1 and "built-in classification kept" in overrides.warnings[0]
    assert loadOverrides(tmp_path / "absent").warnings == []


def test_the_overrides_file_sets_the_aggregate_keys_over_the_entrys(tmp_path: Path) -> None:
    """An adopted server's entry (a client's file) never gets the
    gateway's keys; classification.json says what /mcp lists of it, key by
    key over the entry's; a bad key is a warning naming it, and ignored."""
    (tmp_path / "classification.json").write_text(
        json.dumps(
            {
                "fs": {"includeTools": ["read_*"], "alias": "files", "toolBudget": None},
                "gh": {"aggregate": False, "excludeTools": ["delete_*"]},
                "bad": {"toolBudget": -3, "alias": "no spaces", "includeTools": ["ok"]},
            }
        )
    )
    overrides = loadOverrides(tmp_path)
    assert overrides.servers["fs"] == Override(
        aggregate=(("include", ("read_*",)), ("alias", "files"))
    )
    assert overrides.servers["bad"] == Override(aggregate=(("include", ("ok",)),))
    text = "\n".join(overrides.warnings)
    assert "'bad'.toolBudget must be a whole number >= 0; ignored" in text
    assert "'bad'.alias must be 1-20 letters" in text
    assert len(overrides.warnings) == 2  # the aggregate keys are known keys
    entry = replace(spec("fs"), aggregate=ToolFilter(exclude=("x",), budget=5, alias="f"))
    out = classify({"fs": entry, "gh": spec("gh"), "bad": entry}, overrides)
    assert out["fs"].aggregate == ToolFilter(
        include=("read_*",), exclude=("x",), budget=5, alias="files"
    )
    assert out["gh"].aggregate == ToolFilter(enabled=False, exclude=("delete_*",))
    assert out["bad"].aggregate == replace(entry.aggregate, include=("ok",))
    assert resolve(entry).aggregate == entry.aggregate  # no line: the entry's own


def test_a_timeout_set_anywhere_is_declared_whatever_its_value(tmp_path: Path) -> None:
    """C{--request-timeout} replaces only timeouts nobody set: one from the
    entry or from classification.json counts as set even when it equals the
    built-in 60 s."""
    entries = {
        "own": {"command": "x", "requestTimeout": 60000},
        "plain": {"command": "x"},
        "overridden": {"command": "x"},
    }
    specs = {name: parseEntry(name, entry, {}) for name, entry in entries.items()}
    assert specs["own"].requestTimeoutDeclared and specs["own"].requestTimeout == 60.0
    assert not specs["plain"].requestTimeoutDeclared
    (tmp_path / "classification.json").write_text(
        json.dumps({"overridden": {"requestTimeout": 60000}})
    )
    out = classify(specs, loadOverrides(tmp_path))
    assert [name for name, s in out.items() if s.requestTimeoutDeclared] == ["own", "overridden"]
    applied = wiring.withTimeout(out, 5.0)
    assert {name: s.requestTimeout for name, s in applied.items()} == {
        "own": 60.0,
        "plain": 5.0,
        "overridden": 60.0,
    }
