"""What of a sandbox profile is wider than the default (the keys a
project's own file may not give itself), and the profile without it:
each widening by name, and, for any profile (hypothesis), a narrowed one
has none, narrowing twice is narrowing once, and what narrows is kept."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.narrowing import DEFAULT_LIMITS, describe, narrowed, widenings
from mcpgateway.sandbox.profile import (
    DEFAULT,
    LEARN,
    NETWORK_ALLOW,
    NETWORK_HOST,
    NETWORK_NONE,
    OFF,
    ON,
    SANDBOX_RESOURCE_KEYS,
    SYSCALLS_FILTERED,
    SYSCALLS_WORDS,
    UNSET,
    FilesystemRules,
    NetworkRules,
    SandboxError,
    SandboxProfile,
    SandboxResources,
    parseSandbox,
)


def test_the_default_profile_has_no_widening() -> None:
    assert widenings(DEFAULT) == [] and narrowed(DEFAULT) is DEFAULT
    assert widenings(parseSandbox({"sandbox": True})) == []


@pytest.mark.parametrize(
    ("sandbox", "keys", "told"),
    [
        (False, ["sandbox"], ['"sandbox": false']),
        ("learn", ["sandbox"], ['"sandbox": "learn"']),
        (
            {"filesystem": {"allowRead": ["~/.ssh"], "allowWrite": ["~"]}},
            ["filesystem.allowRead", "filesystem.allowWrite"],
            ['filesystem.allowRead ["~/.ssh"]', 'filesystem.allowWrite ["~"]'],
        ),
        ({"network": "host"}, ["network"], ['"network": "host"']),
        (
            {"network": {"allowedDomains": ["*"]}},
            ["network.allowedDomains"],
            ['network.allowedDomains ["*"]'],
        ),
        (
            {"network": {"allowedDomains": ["evil.example"]}},
            ["network.allowedDomains"],
            ['network.allowedDomains ["evil.example"]'],
        ),
        ({"syscalls": "unfiltered"}, ["syscalls"], ['"syscalls": "unfiltered"']),
        (
            {"limits": {"processes": defaults.PROCESSES + 1, "openFiles": 10}},
            ["limits.processes"],
            [f"limits.processes {defaults.PROCESSES + 1}"],
        ),
    ],
)
def test_each_widening_is_named_by_its_key_and_told_with_its_value(
    sandbox: Any, keys: list[str], told: list[str]
) -> None:
    profile = parseSandbox({"sandbox": sandbox})
    assert widenings(profile) == keys
    assert [describe(profile, key) for key in keys] == told
    assert widenings(narrowed(profile)) == []


@pytest.mark.parametrize(
    "sandbox",
    [
        {"filesystem": {"denyRead": ["~/notes"], "denyWrite": ["./data"]}},
        {"network": "none"},
        {"network": {"deniedDomains": ["x.example"]}},
        {"limits": {"processes": 8, "openFiles": 64, "memoryMb": 256}},
        {"limits": dict(DEFAULT_LIMITS)},
        {"syscalls": "filtered"},
        True,
    ],
)
def test_what_only_narrows_is_no_widening_and_is_kept_as_it_is(sandbox: Any) -> None:
    profile = parseSandbox({"sandbox": sandbox})
    assert widenings(profile) == []
    assert narrowed(profile) is profile


def test_sandbox_false_becomes_the_default_which_the_gateway_confines() -> None:
    profile = narrowed(parseSandbox({"sandbox": False}))
    assert profile == DEFAULT and profile.confined("auto")


def test_narrowing_keeps_the_narrowing_keys_of_a_wider_entry() -> None:
    profile = parseSandbox(
        {
            "sandbox": {
                "filesystem": {"allowWrite": ["~"], "denyRead": ["~/private"]},
                "network": {"allowedDomains": ["*"], "deniedDomains": ["x.example"]},
                "limits": {"processes": 65536, "openFiles": 64},
                "syscalls": "unfiltered",
            }
        }
    )
    assert narrowed(profile) == SandboxProfile(
        ON,
        FilesystemRules(denyRead=("~/private",)),
        NetworkRules(None, (), ("x.example",)),
        SandboxResources(openFiles=64),
        SYSCALLS_FILTERED,
    )


# -- any profile ----------------------------------------------------------------------

paths = st.lists(st.sampled_from(["~", "~/.ssh", "./x", "/srv", "~/notes/"]), max_size=3)
domains = st.lists(st.sampled_from(["*", "a.example", "*.b.example", "c.example:8443"]), max_size=3)


@st.composite
def profiles(draw: st.DrawFn) -> SandboxProfile:
    """Any profile, as parsed or as made by hand (the dataclasses take
    combinations no entry gives)."""
    return SandboxProfile(
        draw(st.sampled_from([UNSET, ON, OFF, LEARN])),
        FilesystemRules(*(tuple(draw(paths)) for _ in range(4))),
        NetworkRules(
            draw(st.sampled_from([None, NETWORK_NONE, NETWORK_HOST, NETWORK_ALLOW])),
            tuple(draw(domains)),
            tuple(draw(domains)),
        ),
        SandboxResources(
            **{
                key: draw(st.one_of(st.none(), st.integers(1, top)))
                for key, top in SANDBOX_RESOURCE_KEYS.items()
            }
        ),
        draw(st.sampled_from(SYSCALLS_WORDS)),
    )


@st.composite
def entries(draw: st.DrawFn) -> SandboxProfile:
    """Any profile an entry gives (parsed; what is refused is skipped)."""
    sandbox = draw(
        st.one_of(
            st.sampled_from([True, False, "learn"]),
            st.fixed_dictionaries(
                {},
                optional={
                    "filesystem": st.fixed_dictionaries(
                        {},
                        optional={
                            key: paths
                            for key in ("allowRead", "allowWrite", "denyRead", "denyWrite")
                        },
                    ),
                    "network": st.one_of(
                        st.sampled_from(["none", "host"]),
                        st.fixed_dictionaries(
                            {}, optional={"allowedDomains": domains, "deniedDomains": domains}
                        ),
                    ),
                    "limits": st.fixed_dictionaries(
                        {},
                        optional={
                            key: st.integers(1, top) for key, top in SANDBOX_RESOURCE_KEYS.items()
                        },
                    ),
                    "syscalls": st.sampled_from(SYSCALLS_WORDS),
                },
            ),
        )
    )
    try:
        return parseSandbox({"sandbox": sandbox})
    except SandboxError:
        return DEFAULT


ANY_PROFILE = st.one_of(profiles(), entries())


@settings(max_examples=400, deadline=None)
@given(ANY_PROFILE)
def test_a_narrowed_profile_never_has_a_widening(profile: SandboxProfile) -> None:
    assert widenings(narrowed(profile)) == []


@settings(max_examples=400, deadline=None)
@given(ANY_PROFILE)
def test_narrowing_is_idempotent(profile: SandboxProfile) -> None:
    once = narrowed(profile)
    assert narrowed(once) == once


@settings(max_examples=400, deadline=None)
@given(ANY_PROFILE)
def test_narrowing_keeps_every_narrowing_key_and_only_ever_narrows(
    profile: SandboxProfile,
) -> None:
    out = narrowed(profile)
    assert (out.filesystem.denyRead, out.filesystem.denyWrite) == (
        profile.filesystem.denyRead,
        profile.filesystem.denyWrite,
    )
    assert out.network.deniedDomains == profile.network.deniedDomains
    assert out.setting in (UNSET, ON) and out.syscalls == SYSCALLS_FILTERED
    for key in SANDBOX_RESOURCE_KEYS:
        value = getattr(out.limits, key)
        assert value is None or value == getattr(profile.limits, key) <= DEFAULT_LIMITS[key]
    assert out.confined("auto")
    if not widenings(profile):
        assert out is profile
    for key in widenings(profile):
        assert describe(profile, key)  # every widening can be told
