# -*- test-case-name: tests.startup.test_teamoptions,tests.startup.test_selfservice -*-
"""The options of what a team's gateway asks for (an audit log's syslog
copy and key, a Cedar policy, the self-service server): their entries and
checks, which every gateway's options hold, apart from their wiring
(L{mcpgateway.ops.auditexport}, L{mcpgateway.ops.auditkey},
L{mcpgateway.startup.policywiring}, L{mcpgateway.startup.selfservice}),
which start-up loads only when the option is given: a laptop's gateway
never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.python import usage

AUDIT_KEY_FILE = "audit.key"
"""The audit chain key's file in the state directory, when no
C{--audit-key-file} names one (L{mcpgateway.ops.auditkey.KEY_FILE})."""
AUDIT_KEY_HELP = (
    "With --audit-log: the file of the audit chain's HMAC key (made, mode 0600, when"
    " missing; never in the log's own folder). Default: <state-dir>/" + AUDIT_KEY_FILE + "."
)
POLICY_HELP = (
    "A Cedar policy file deciding who may call which tool, resource and prompt"
    " (docs/guide/policy.md); read again when it changes. Needs the policy extra:"
    " pip install 'mcpgateway[policy]'."
)
DEFAULT_HELP = (
    "With --policy: the decision on a request no policy permits or forbids:"
    " deny (Cedar's own, the default) or allow (only explicit forbids refuse)."
)
SELF_SERVICE_FLAG = [
    "self-service",
    None,
    "Serve the gateway's own MCP server 'gateway' (on /mcp as gateway__find_server,"
    " gateway__add_server, ...): it finds servers in the MCP registry and adds, removes,"
    " enables and disables the gateway's servers from inside a session, each change only"
    " after the person confirms it (elicitation). On an authenticated gateway, for admin"
    " principals only.",
]
"""The C{optFlags} entry of C{--self-service}."""


def syslogTarget(text: str) -> str:
    """C{text}, a good C{--audit-syslog} value (else C{ValueError}, which
    the option's parser shows; L{mcpgateway.ops.auditexport.parseTarget}
    reads it, loaded only when the option is given)."""
    from mcpgateway.ops.auditexport import parseTarget

    parseTarget(text)
    return text


def auditParameters() -> list[list[Any]]:
    """The C{optParameters} entries of C{--audit-syslog} and C{--audit-key-file}."""
    return [
        ["audit-syslog", None, None, "Audit to syslog too: unix:///dev/log, udp:H:P", syslogTarget],
        ["audit-key-file", None, None, AUDIT_KEY_HELP],
    ]


def policyDefault(value: str) -> str:
    """C{--policy-default}'s value: C{allow} or C{deny}."""
    if value not in ("allow", "deny"):
        raise ValueError("must be allow or deny")
    return value


def policyParameters() -> list[list[Any]]:
    """The C{optParameters} entries of C{--policy} and C{--policy-default}."""
    return [
        ["policy", None, None, POLICY_HELP],
        ["policy-default", None, "deny", DEFAULT_HELP, policyDefault],
    ]


def checkSelfService(options: Mapping[str, Any]) -> None:
    """Refuse C{--self-service} where it cannot work, in one line.

    @raise usage.UsageError: a cluster replica (a change would reach one
        replica's C{servers.json} only), or a UNIX socket (the child reaches
        the gateway's API over TCP).
    """
    if not options.get("self-service"):
        return
    if options.get("cluster-key-file"):
        raise usage.UsageError(
            "--self-service and --cluster-key-file: a change made from a session would reach"
            " one replica's servers.json only; change a cluster's servers in its config"
        )
    if str(options.get("endpoint", "")).split(":", 1)[0].lower() == "unix":
        raise usage.UsageError(
            "--self-service needs a TCP --port: its server reaches the gateway's management"
            " API over HTTP on loopback, not through a UNIX socket"
        )
