"""Secret references: the four forms, what is refused, and that they never
collide with the config's own C{${VAR}} and C{${VAR:-default}}."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.references import (
    BadReference,
    Redactor,
    Reference,
    parseReferences,
    referencesOf,
    substitute,
)
from mcpgateway.config.servers import EntryError, parseEntry

NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
VARIABLES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: not n.startswith(("MCPGATEWAY_", "LISTEN_")) and n != "NOTIFY_SOCKET"
)
SEGMENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,10}[A-Za-z0-9]", fullmatch=True)
PATHS = st.from_regex(r"(/|~/)[A-Za-z0-9_./-]{1,30}", fullmatch=True)


@st.composite
def references(draw: st.DrawFn) -> Reference:
    kind = draw(st.sampled_from(["keyring", "env", "file", "op"]))
    if kind == "keyring":
        return Reference(kind, draw(NAMES))
    if kind == "env":
        return Reference(kind, draw(VARIABLES))
    if kind == "file":
        return Reference(kind, draw(PATHS))
    segments = draw(st.lists(SEGMENT, min_size=3, max_size=4))
    return Reference("op", "op://" + "/".join(segments))


def test_each_form_is_found_in_a_longer_text() -> None:
    text = "Bearer ${keyring:gh} ${env:HOME} ${file:~/t} ${op://Dev/GitHub/token}!"
    assert parseReferences(text) == [
        Reference("keyring", "gh"),
        Reference("env", "HOME"),
        Reference("file", "~/t"),
        Reference("op", "op://Dev/GitHub/token"),
    ]
    assert [r.text for r in parseReferences(text)] == [
        "${keyring:gh}",
        "${env:HOME}",
        "${file:~/t}",
        "${op://Dev/GitHub/token}",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "${op://vault/item/section/field}",
        "${op://vault/item/field?attribute=otp}",
        "${op://Private vault/My item/password}",
    ],
)
def test_one_password_references_with_a_section_or_a_query(text: str) -> None:
    (found,) = parseReferences(text)
    assert found.kind == "op" and found.text == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("${keyring:}", "a secret's name"),
        ("${keyring:bad name}", "a secret's name"),
        ("${keyring:.hidden}", "a secret's name"),
        ("${env:1X}", "not an environment variable's name"),
        ("${env:MCPGATEWAY_API_TOKEN}", "the gateway's own variables"),
        ("${env:LISTEN_FDS}", "the gateway's own variables"),
        ("${file:relative/path}", "absolute or start with '~'"),
        ("${file:}", "absolute or start with '~'"),
        ("${op://vault/item}", "op://VAULT/ITEM/FIELD"),
        ("${op://vault//field}", "op://VAULT/ITEM/FIELD"),
        ("${op:vault/item/field}", "op://VAULT/ITEM/FIELD"),
        ("${op://a/b/c/d/e}", "op://VAULT/ITEM/FIELD"),
    ],
)
def test_a_reference_written_wrong_is_refused_naming_it(text: str, why: str) -> None:
    with pytest.raises(BadReference, match="^" + text.replace("$", r"\$").replace("{", r"\{")):
        parseReferences(f"x {text} y")
    with pytest.raises(BadReference, match=why.replace("(", r"\(").replace("?", r"\?")):
        parseReferences(text)


def test_referencesOf_names_the_place_of_a_bad_one() -> None:
    places = [("env.A", "${keyring:a}"), ("args[1]", "--t=${keyring:b}${keyring:a}")]
    assert referencesOf(places) == frozenset({"${keyring:a}", "${keyring:b}"})
    with pytest.raises(BadReference, match=r"^env\.B: \$\{env:MCPGATEWAY_X\}"):
        referencesOf([("env.B", "${env:MCPGATEWAY_X}")])


@given(st.text())
def test_any_text_is_parsed_or_refused_never_anything_else(text: str) -> None:
    try:
        found = parseReferences(text)
    except BadReference:
        return
    for reference in found:
        assert reference.text in text


@given(VARIABLES, st.one_of(st.none(), st.text(alphabet=st.characters(exclude_characters="}"))))
def test_the_configs_own_variables_are_never_references(name: str, default: str | None) -> None:
    text = "${" + name + ("" if default is None else ":-" + default) + "}"
    assert parseReferences(text) == []
    assert substitute(text, {text: "x"}) == text


@pytest.mark.parametrize("kind", ["env", "file", "keyring", "op"])
def test_a_default_after_a_kind_word_is_the_configs_form(kind: str) -> None:
    assert parseReferences("${" + kind + ":-fallback}") == []


@given(st.lists(references(), min_size=1, max_size=4), st.text(alphabet="ab $:-/", max_size=8))
def test_references_round_trip_and_are_left_alone_by_the_configs_expansion(
    found: list[Reference], glue: str
) -> None:
    text = glue.join(r.text for r in found)
    assert parseReferences(text) == found
    entry = {"command": "true", "env": {"X": text}, "args": [text]}
    spec = parseEntry("s", entry, {"PATH": "/bin"})
    assert dict(spec.env)["X"] == text and spec.args == (text,)
    assert spec.references == frozenset(r.text for r in found)


@given(st.lists(references(), min_size=1, max_size=4, unique=True), st.data())
def test_substitute_replaces_exactly_the_references_given(
    found: list[Reference], data: st.DataObject
) -> None:
    text = "<" + "|".join(r.text for r in found) + ">"
    given = data.draw(st.lists(st.sampled_from(found), unique=True))
    values = {r.text: f"V{i}" for i, r in enumerate(given)}
    out = substitute(text, values)
    expected = "<" + "|".join(values.get(r.text, r.text) for r in found) + ">"
    assert out == expected


def test_a_malformed_reference_in_an_entry_is_an_entry_error() -> None:
    with pytest.raises(EntryError, match=r"env\.TOKEN: \$\{keyring:a b\}"):
        parseEntry("s", {"command": "true", "env": {"TOKEN": "${keyring:a b}"}}, {})


def test_the_redactor_puts_the_reference_back_longest_value_first() -> None:
    redact = Redactor({"${keyring:a}": "abcdef", "${keyring:b}": "abcdefgh", "${env:S}": "xyz"})
    assert redact("got abcdefgh and abcdef and xyz") == (
        "got ${keyring:b} and ${keyring:a} and xyz"
    )
    assert "abcdef" not in repr(redact)
    assert not Redactor({"${env:S}": "xyz"})
