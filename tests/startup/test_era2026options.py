"""The 2026-07-28 options, and the older option names the command line still reads."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.startup.era2026options import OLD_SPELLINGS, newSpellings
from mcpgateway.startup.options import Options


def test_an_older_name_alone_and_with_its_value_is_read_as_the_new_one() -> None:
    argv = ["--max-modern-in-flight", "7", "--modern-input-timeout=12.5", "--port", "0"]
    assert newSpellings(argv) == [
        "--max-era2026-in-flight",
        "7",
        "--era2026-input-timeout=12.5",
        "--port",
        "0",
    ]


def test_nothing_after_the_end_of_options_is_renamed() -> None:
    assert newSpellings(["--", "--max-modern-in-flight"]) == ["--", "--max-modern-in-flight"]


@given(st.lists(st.text().filter(lambda arg: arg.partition("=")[0] not in OLD_SPELLINGS)))
def test_other_arguments_pass_as_they_are(argv: list[str]) -> None:
    assert newSpellings(argv) == argv


def test_the_gateway_options_take_the_older_names() -> None:
    options = Options()
    options.parseOptions(["--max-modern-in-flight", "9", "--modern-input-timeout", "30"])
    assert options["max-era2026-in-flight"] == 9
    assert options["era2026-input-timeout"] == 30.0
