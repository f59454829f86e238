"""Outside text as a person reads it: whitespace made visible, control
characters escaped, arguments quoted as a shell would, a long line cut
saying what it leaves out; whatever the text, no line of its own and no
blank run."""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.registry.display import (
    argumentCount,
    badCharacter,
    cappedText,
    commandLineShown,
    showArgument,
    visible,
)


@pytest.mark.parametrize(
    ("argument", "shown"),
    [
        ("plain", "plain"),
        ("a b", "'a b'"),
        ("", "''"),
        ("a  b", "'a⟨2 spaces⟩b'"),
        (" lead", "' lead'"),
        ("x" + " " * 40 + "--evil", "'x⟨40 spaces⟩--evil'"),
        ("a\tb", "'a⟨1 tab⟩b'"),
        ("a\n\n b", "'a⟨2 line breaks, 1 space⟩b'"),
        ("a\r\nb", "'a⟨1 carriage return, 1 line break⟩b'"),
        ("a\u00a0\u00a0b", "'a⟨\\xa0 (2 times)⟩b'"),
        ("a\u2028b", "'a⟨\\u2028⟩b'"),
        ("\x1b[2J", "'\\x1b[2J'"),
        ("\u202eevil", "'\\u202eevil'"),
        ("it's", "'it'\"'\"'s'"),
    ],
)
def test_an_argument_as_a_person_reads_it(argument: str, shown: str) -> None:
    assert showArgument(argument) == shown


def test_a_command_line_is_cut_with_what_it_leaves_out() -> None:
    argv = ["docker", "run", "-v", "/srv:/srv", "image"]
    assert commandLineShown(argv) == "docker run -v /srv:/srv image"
    assert commandLineShown(argv, 29) == "docker run -v /srv:/srv image"
    assert commandLineShown(argv, 12) == "docker run -… and 2 more arguments (17 more characters)"
    assert commandLineShown(argv, 11) == "docker run … and 3 more arguments (18 more characters)"
    assert (
        commandLineShown(argv, 23)
        == "docker run -v /srv:/srv… and 1 more argument (6 more characters)"
    )
    assert commandLineShown(argv, 26) == "docker run -v /srv:/srv im… and 3 more characters"
    assert argumentCount(argv) == "4 arguments" and argumentCount(["x"]) == "0 arguments"
    assert argumentCount(["x", "y"]) == "1 argument"
    assert cappedText("a" * 10, 4) == "aaaa… and 6 more characters"
    assert cappedText("a  b", 20) == "a⟨2 spaces⟩b"


texts = st.text(
    alphabet=st.one_of(
        st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\x1b", "\u202e", "'", '"']),
        st.characters(),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(argv=st.lists(texts, min_size=1, max_size=8), limit=st.integers(1, 200))
def test_nothing_shown_hides_anything(argv: list[str], limit: int) -> None:
    whole = commandLineShown(argv)
    cut = commandLineShown(argv, limit)
    for line in (whole, cut):
        assert not re.search(r"\s\s", line) and all(c == " " or not c.isspace() for c in line)
        assert badCharacter(line) is None
    if len(whole) <= limit:
        assert cut == whole
    else:
        assert cut.startswith(whole[:limit]) and re.search(r"… and .*more characters?\)?$", cut)
    # what is shown reads back, argument by argument, as what visible() made of each
    assert shlex.split(whole) == [visible(a) for a in argv]
