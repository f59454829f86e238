"""C{--pins} and C{--quarantine-new}: parsed, defaulted by whether the
gateway authenticates its callers, and the policy they make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import MultiService
from twisted.internet.task import Clock

from mcpgateway.startup.pinoptions import keepPins, pinPolicy
from mcpgateway.trust.policy import PinPolicy
from tests.support.startup.options import parseIn, refusal


def test_warn_on_a_loopback_gateway(tmp_path: Path) -> None:
    options = parseIn(tmp_path)
    assert (options["pins"], options["quarantine-new"]) == ("warn", False)


def test_enforce_on_an_authenticated_gateway(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    assert parseIn(tmp_path, "--auth-tokens", str(tokens))["pins"] == "enforce"
    assert parseIn(tmp_path, "--auth-tokens", str(tokens), "--pins", "warn")["pins"] == "warn"


def test_given(tmp_path: Path) -> None:
    assert parseIn(tmp_path, "--pins", "off")["pins"] == "off"
    options = parseIn(tmp_path, "--pins", "enforce", "--quarantine-new")
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
    assert message in refusal(tmp_path, capsys, *extra)


def refuse(message: str) -> Any:
    raise SystemExit(message)


def test_the_policy_reads_the_pins_file(tmp_path: Path) -> None:
    options = parseIn(tmp_path, "--pins", "enforce", "--quarantine-new")
    policy = pinPolicy(options, tmp_path, Clock(), lambda f, *a: f(*a), refuse)
    assert isinstance(policy, PinPolicy)
    assert (policy.mode, policy.quarantineNew) == ("enforce", True)
    top = MultiService()
    keepPins(policy, top)
    assert policy.parent is top
    assert pinPolicy(parseIn(tmp_path, "--pins", "off"), tmp_path, Clock(), print, refuse) is None
    keepPins(None, top)  # nothing to keep


def test_a_pins_file_that_cannot_be_used_refuses_the_start(tmp_path: Path) -> None:
    (tmp_path / "pins.json").write_text("{broken")
    with pytest.raises(SystemExit) as refused:
        pinPolicy(parseIn(tmp_path), tmp_path, Clock(), print, refuse)
    assert "pins.json is not JSON: fix it, or move it away" in str(refused.value)
