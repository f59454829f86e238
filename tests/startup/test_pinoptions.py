"""C{--pins} and C{--quarantine-new}: parsed, defaulted by whether the
gateway authenticates its callers, and the policy they make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import MultiService
from twisted.internet.task import Clock

from mcpgateway import tap
from mcpgateway.startup.pinoptions import keepPins, pinPolicy
from mcpgateway.trust.policy import PinPolicy


def parse(tmp_path: Path, *extra: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(["--state-dir", str(tmp_path / "st"), *extra])
    return options


def test_warn_on_a_loopback_gateway(tmp_path: Path) -> None:
    options = parse(tmp_path)
    assert (options["pins"], options["quarantine-new"]) == ("warn", False)


def test_enforce_on_an_authenticated_gateway(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    assert parse(tmp_path, "--auth-tokens", str(tokens))["pins"] == "enforce"
    assert parse(tmp_path, "--auth-tokens", str(tokens), "--pins", "warn")["pins"] == "warn"


def test_given(tmp_path: Path) -> None:
    assert parse(tmp_path, "--pins", "off")["pins"] == "off"
    options = parse(tmp_path, "--pins", "enforce", "--quarantine-new")
    assert (options["pins"], options["quarantine-new"]) == ("enforce", True)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--pins", "strict"), "--pins 'strict': use warn, enforce, off"),
        (("--pins", "off", "--quarantine-new"), "--quarantine-new needs pins"),
    ],
)
def test_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SystemExit):
        parse(tmp_path, *extra)
    assert message in capsys.readouterr().err


def refuse(message: str) -> Any:
    raise SystemExit(message)


def test_the_policy_reads_the_pins_file(tmp_path: Path) -> None:
    options = parse(tmp_path, "--pins", "enforce", "--quarantine-new")
    policy = pinPolicy(options, tmp_path, Clock(), lambda f, *a: f(*a), refuse)
    assert isinstance(policy, PinPolicy)
    assert (policy.mode, policy.quarantineNew) == ("enforce", True)
    top = MultiService()
    keepPins(policy, top)
    assert policy.parent is top
    assert pinPolicy(parse(tmp_path, "--pins", "off"), tmp_path, Clock(), print, refuse) is None
    keepPins(None, top)  # nothing to keep


def test_a_pins_file_that_cannot_be_used_refuses_the_start(tmp_path: Path) -> None:
    (tmp_path / "pins.json").write_text("{broken")
    with pytest.raises(SystemExit) as refused:
        pinPolicy(parse(tmp_path), tmp_path, Clock(), print, refuse)
    assert "pins.json is not JSON: fix it, or move it away" in str(refused.value)
