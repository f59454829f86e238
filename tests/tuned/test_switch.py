"""C{--twisted}: the word, its environment fallback, and reading it ahead of twistd."""

from __future__ import annotations

import pytest
from twisted.python.usage import UsageError

from mcpgateway.startup.options import Options
from mcpgateway.tuned import switch
from mcpgateway.tuned.switch import (
    DEFAULT,
    STOCK,
    TUNED,
    TWISTED_ENV,
    checkTwisted,
    fromArgv,
    twistedChoice,
    twistedSetting,
)


def test_the_option_wins_over_the_environment_which_wins_over_the_default() -> None:
    assert twistedSetting(STOCK, {TWISTED_ENV: TUNED}) == STOCK
    assert twistedSetting(None, {TWISTED_ENV: STOCK}) == STOCK
    assert twistedSetting(None, {}) == DEFAULT
    assert twistedSetting(None, {TWISTED_ENV: ""}) == DEFAULT


def test_a_word_that_is_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="use stock or tuned"):
        twistedChoice("fast")
    with pytest.raises(ValueError, match=TWISTED_ENV):
        twistedSetting(None, {TWISTED_ENV: "fast"})


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["twistd", "-n", "mcpgateway", "--twisted=stock"], {}, STOCK),
        (["twistd", "-n", "mcpgateway", "--twisted", "stock", "--port", "0"], {}, STOCK),
        (["twistd", "-n", "mcpgateway"], {TWISTED_ENV: STOCK}, STOCK),
        (["twistd", "-n", "mcpgateway", "--twisted=tuned"], {TWISTED_ENV: STOCK}, TUNED),
        (["twistd", "--twisted=stock", "-n", "mcpgateway"], {}, DEFAULT),
        (["twistd", "-n", "mcpgateway", "--twisted=fast"], {}, DEFAULT),
        (["twistd", "-n", "mcpgateway", "--twisted"], {}, DEFAULT),
    ],
    ids=["equals", "separate", "env", "option-over-env", "not-the-gateways", "bad", "no-value"],
)
def test_read_from_the_command_line_before_it_is_parsed(
    argv: list[str], environ: dict[str, str], expected: str
) -> None:
    """Only the gateway's options (after C{mcpgateway}) count; a bad word is
    the default here, for the options to refuse."""
    assert fromArgv(argv, environ) == expected


def test_the_options_settle_it_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TWISTED_ENV, STOCK)
    options = {"twisted": None}
    checkTwisted(options)
    assert options == {"twisted": STOCK}
    monkeypatch.setenv(TWISTED_ENV, "fast")
    with pytest.raises(UsageError, match=TWISTED_ENV):
        checkTwisted({"twisted": None})


def test_the_gateways_options_list_it(capsys: pytest.CaptureFixture[str]) -> None:
    options = Options()
    options.parseOptions(["--twisted", "stock", "--port", "tcp:0:interface=127.0.0.1"])
    assert options["twisted"] == STOCK
    with pytest.raises(SystemExit):
        Options().parseOptions(["--twisted", "fast"])
    assert "--twisted 'fast': use stock or tuned" in capsys.readouterr().err
    assert switch.DEFAULT in switch.TWISTED_HELP
