"""The options of a team's features: checked as the gateway's options are
parsed, with no module of the features' wiring loaded unless one is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python.usage import UsageError

from mcpgateway import tap
from mcpgateway.ops import auditkey
from mcpgateway.startup import teamoptions
from tests.support.runtime.fresh import freshJson

WIRING = (
    "mcpgateway.ops.auditexport",
    "mcpgateway.ops.auditkey",
    "mcpgateway.startup.policywiring",
    "mcpgateway.startup.selfservice",
)
"""The modules of the features whose options L{teamoptions} holds."""

PARSE = """
import json, sys
from mcpgateway import tap
tap.Options().parseOptions(sys.argv[1:])
print(json.dumps(sorted(name for name in sys.modules if name in {wiring!r})))
"""


def loadedParsing(*argv: str) -> list[str]:
    """The modules of L{WIRING} a fresh interpreter holds once it has
    parsed the gateway's options C{argv}."""
    return freshJson(PARSE.format(wiring=set(WIRING)), *argv)  # type: ignore[no-any-return]


def test_parsing_the_options_loads_no_features_wiring() -> None:
    assert loadedParsing("--port", "9311") == []


def test_an_audit_syslog_target_is_checked_by_the_exporters_own_parser(tmp_path: Path) -> None:
    assert loadedParsing(
        "--port",
        "9311",
        "--audit-log",
        str(tmp_path / "audit.log"),
        "--audit-syslog",
        "udp:127.0.0.1:514",
    ) == ["mcpgateway.ops.auditexport"]
    assert teamoptions.syslogTarget("unix:///dev/log") == "unix:///dev/log"
    with pytest.raises(ValueError, match="udp:HOST:PORT"):
        teamoptions.syslogTarget("tcp:127.0.0.1:514")


def test_the_audit_keys_default_file_is_the_one_the_audit_log_uses() -> None:
    assert teamoptions.AUDIT_KEY_FILE == auditkey.KEY_FILE
    assert auditkey.KEY_FILE in teamoptions.AUDIT_KEY_HELP


def test_the_policy_options_are_the_gateways() -> None:
    options = tap.Options()
    options.parseOptions(["--port", "9311", "--policy-default", "allow"])
    assert options["policy-default"] == "allow" and options["policy"] is None
    assert teamoptions.policyDefault("deny") == "deny"
    with pytest.raises(ValueError, match="allow or deny"):
        teamoptions.policyDefault("maybe")


def test_self_service_is_refused_on_a_unix_socket() -> None:
    teamoptions.checkSelfService({"self-service": 0, "endpoint": "unix:/tmp/s"})
    with pytest.raises(UsageError, match="TCP --port"):
        teamoptions.checkSelfService({"self-service": 1, "endpoint": "unix:/tmp/s"})
