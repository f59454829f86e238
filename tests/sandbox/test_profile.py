"""A server entry's C{"sandbox"}: every shape it takes, and every wrong one
refused in words (never a crash)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox.profile import (
    DEFAULT,
    LEARN,
    NETWORK_ALLOW,
    NETWORK_HOST,
    NETWORK_NONE,
    OFF,
    ON,
    UNSET,
    FilesystemRules,
    SandboxError,
    SandboxProfile,
    SandboxResources,
    parseSandbox,
)


def test_an_entry_that_says_nothing_has_the_default_profile_and_the_gateway_decides() -> None:
    profile = parseSandbox({"command": "x"})
    assert profile is DEFAULT and profile.setting == UNSET
    assert profile.confined("auto") and not profile.confined("off")


@pytest.mark.parametrize(
    ("entry", "setting"),
    [
        ({"sandbox": True}, ON),
        ({"sandbox": False}, OFF),
        ({"sandbox": "learn"}, LEARN),
        ({"sandboxEnabled": True}, ON),
        ({"sandboxEnabled": False}, UNSET),
        ({"sandboxEnabled": True, "sandbox": {}}, ON),
        ({"sandboxEnabled": False, "sandbox": {"filesystem": {"allowWrite": ["/x"]}}}, UNSET),
    ],
)
def test_the_settings(entry: dict[str, Any], setting: str) -> None:
    assert parseSandbox(entry).setting == setting


def test_an_entry_that_asks_is_confined_whatever_the_gateway_says_and_false_never() -> None:
    for setting in (ON, LEARN):
        assert SandboxProfile(setting).confined("off") and SandboxProfile(setting).confined("auto")
    assert not SandboxProfile(OFF).confined("auto")


def test_the_shape_vs_code_and_sandbox_runtime_use() -> None:
    profile = parseSandbox(
        {
            "sandbox": {
                "filesystem": {
                    "allowWrite": ["~/out", "~/out"],
                    "denyRead": ["~/secrets"],
                    "allowRead": ["/data"],
                    "denyWrite": ["./keep"],
                },
                "network": {"allowedDomains": ["api.github.com"], "deniedDomains": ["x.com"]},
                "limits": {"processes": 32, "openFiles": 256, "memoryMb": 512},
            }
        }
    )
    assert profile.setting == ON
    assert profile.filesystem == FilesystemRules(
        ("/data",), ("~/out",), ("~/secrets",), ("./keep",)
    )
    assert profile.network.mode == NETWORK_ALLOW
    assert profile.network.allowedDomains == ("api.github.com",)
    assert profile.limits == SandboxResources(32, 256, 512)
    assert profile.toJson()["filesystem"]["allowWrite"] == ["~/out"]


@pytest.mark.parametrize(
    ("network", "mode"),
    [("host", NETWORK_HOST), ("none", NETWORK_NONE), ({"allowedDomains": []}, NETWORK_NONE)],
)
def test_the_network_words(network: Any, mode: str) -> None:
    assert parseSandbox({"sandbox": {"network": network}}).network.mode == mode


def test_a_star_allows_every_domain_which_is_the_host_network() -> None:
    assert parseSandbox({"sandbox": {"network": {"allowedDomains": ["*"]}}}).network.mode == "host"


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"sandbox": "yes"}, "'sandbox' must be true, false"),
        ({"sandbox": {"filesytem": {}}}, "'sandbox' has 'filesytem'"),
        ({"sandbox": {"filesystem": {"denyRaed": ["~/.x"]}}}, "'sandbox.filesystem' has"),
        ({"sandbox": {"filesystem": {"allowRead": "~/x"}}}, "list of non-empty strings"),
        ({"sandbox": {"filesystem": {"allowRead": [""]}}}, "list of non-empty strings"),
        ({"sandbox": {"filesystem": {"allowRead": ["a\0b"]}}}, "not one"),
        ({"sandbox": {"network": "open"}}, "'sandbox.network' must be"),
        ({"sandbox": {"network": {"allowedDomains": ["a b"]}}}, "not a domain"),
        ({"sandbox": {"limits": {"processes": 0}}}, "from 1 to 65536"),
        ({"sandbox": {"limits": {"processes": True}}}, "whole number"),
        ({"sandbox": {"limits": {"cpu": 1}}}, "'sandbox.limits' has 'cpu'"),
        ({"sandboxEnabled": "true"}, "'sandboxEnabled' must be true or false"),
        ({"sandboxEnabled": True, "sandbox": False}, "disagree"),
        ({"sandbox": {"filesystem": {"allowRead": ["/x"] * 300}}}, None),
    ],
)
def test_what_cannot_be_used_is_refused_naming_the_key(
    entry: dict[str, Any], words: str | None
) -> None:
    if words is None:  # duplicates collapse: 300 of one path is one path
        assert parseSandbox(entry).filesystem.allowRead == ("/x",)
        return
    with pytest.raises(SandboxError, match=words.replace("(", r"\(")):
        parseSandbox(entry)


def test_a_list_too_long_is_refused() -> None:
    paths = [f"/p{i}" for i in range(300)]
    with pytest.raises(SandboxError, match="more than 256"):
        parseSandbox({"sandbox": {"filesystem": {"allowRead": paths}}})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "filesystem",
                    "network",
                    "limits",
                    "allowRead",
                    "allowWrite",
                    "denyRead",
                    "denyWrite",
                    "allowedDomains",
                    "deniedDomains",
                    "processes",
                    "openFiles",
                    "memoryMb",
                    "x",
                ]
            )
            | st.text(max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(sandbox=JSON, enabled=st.none() | st.booleans() | st.text(max_size=3))
def test_any_entry_parses_or_is_refused_in_words_never_a_crash(sandbox: Any, enabled: Any) -> None:
    entry: dict[str, Any] = {"command": "x", "sandbox": sandbox}
    if enabled is not None:
        entry["sandboxEnabled"] = enabled
    try:
        profile = parseSandbox(entry)
    except SandboxError as e:
        assert str(e).startswith("'sandbox")
        return
    assert profile.setting in (UNSET, ON, OFF, LEARN)
    assert isinstance(profile.toJson(), dict)


def test_the_system_call_filter_is_on_unless_the_entry_or_learning_says_otherwise() -> None:
    assert DEFAULT.filtersSyscalls and parseSandbox({"sandbox": {}}).filtersSyscalls
    unfiltered = parseSandbox({"sandbox": {"syscalls": "unfiltered"}})
    assert not unfiltered.filtersSyscalls and unfiltered.toJson()["syscalls"] == "unfiltered"
    assert parseSandbox({"sandbox": {"syscalls": "filtered"}}).filtersSyscalls
    assert not parseSandbox({"sandbox": "learn"}).filtersSyscalls  # strace needs ptrace


@pytest.mark.parametrize("value", [False, "off", None, ["unfiltered"], "Unfiltered"])
def test_a_syscalls_word_the_gateway_does_not_know_is_refused(value: Any) -> None:
    with pytest.raises(SandboxError, match=r"'sandbox\.syscalls' must be \"filtered\""):
        parseSandbox({"sandbox": {"syscalls": value}})
