# -*- test-case-name: tests.web.admin.test_pinsapi -*-
"""What C{/api/v1/pins} does (docs/guide/trust.md), for L{mcpgateway.web.admin.api.ApiApp}:

 - C{GET /api/v1/pins}: the policy (C{--pins}, C{--quarantine-new}) and
   every server definition's pins, with each pending change, its diff and
   whether it is withheld now (L{mcpgateway.trust.policy.PinPolicy.report}),
   and whether the gateway serves that server (C{served}) and that
   definition of it (C{current});
 - C{GET /api/v1/pins/<server>}: the same for one server (404: none);
 - C{POST /api/v1/pins/<server>/approve}, with an optional body
   C{{"tools": [names]}} (none: every pending change of the server): the
   changes become the pins at once; the server's sessions and catalogs
   list its tools again, and when no child of it runs its catalog is
   listed afresh (a probe);
 - C{POST /api/v1/pins/<server>/forget}: the pins of every definition of
   the server the gateway does not serve now are forgotten (409 when it
   serves the server's only one: its pins are what its tools are checked
   against).

A gateway run with C{--pins off} reports no pins and refuses approvals
(409): the C{mcpgateway tools} command edits the file itself then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.logger import Logger

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.ops.management import ManagementError
from mcpgateway.runtime import logs
from mcpgateway.trust.pins import OFF, StaleReview
from mcpgateway.trust.policy import policyOf

log = Logger(observer=logs.observer, namespace="mcpgateway.web.admin.api")
NOBODY: Mapping[str, str] = {}
"""No caller named: the log line says the owner made the change."""


def pinsReport(gateway: Gateway, server: str | None = None) -> dict[str, Any]:
    """C{GET /api/v1/pins[/<server>]}."""
    policy = policyOf(gateway)
    if policy is None:
        if server is not None:
            raise ManagementError(404, f"no pins: this gateway runs with --pins {OFF}")
        return {"policy": OFF, "quarantineNew": False, "servers": []}
    try:
        report = policy.report(server)
    except KeyError:
        raise ManagementError(
            404, f"no pins for server '{server}': the gateway has not listed its tools yet"
        ) from None
    for record in report["servers"]:
        launch = _servedLaunch(gateway, record["server"])
        record["served"] = launch is not None
        record["current"] = launch == record["launch"]
    return report


def _servedLaunch(gateway: Gateway, server: str) -> str | None:
    """The launch of the definition of C{server} the gateway serves now
    (C{None}: it serves no server of that name)."""
    policy = policyOf(gateway)
    pool = gateway.pools.get(server)
    if policy is None or pool is None:
        return None
    return policy.keyOf(pool.spec)[1]


def forgetPins(gateway: Gateway, server: str, who: Mapping[str, str] = NOBODY) -> dict[str, Any]:
    """C{POST /api/v1/pins/<server>/forget}: C{{"server": ..., "forgotten":
    [launch, ...], "kept": launch or None}}; C{who} names the caller in the
    log line (L{mcpgateway.web.admin.changerecords.ChangeRecords.who})."""
    policy = policyOf(gateway)
    if policy is None:
        raise ManagementError(
            409,
            f"this gateway runs with --pins {OFF}: `mcpgateway tools forget` edits the pins"
            " file itself",
        )
    records = policy.book.ofServer(server)
    if not records:
        raise ManagementError(404, f"no pins for server '{server}'")
    served = _servedLaunch(gateway, server)
    if all(record.launch == served for record in records):
        raise ManagementError(
            409,
            f"server '{server}' is served, and its pins are what its tools are checked"
            f" against: review its changes with `mcpgateway tools diff {server}` and approve"
            " them instead",
        )
    forgotten = policy.forget(server, keep=served)
    log.info(
        "api: pins of server {server} forgotten ({count} definition(s)) by {by}",
        server=server,
        count=len(forgotten),
        **{"by": "the owner", **who},
    )
    return {"server": server, "forgotten": forgotten, "kept": served}


def approvePins(
    gateway: Gateway, server: str, body: Any, who: Mapping[str, str] = NOBODY
) -> dict[str, Any]:
    """C{POST /api/v1/pins/<server>/approve} with C{body} (C{None}: no
    body); C{who} names the caller in the log line."""
    policy = policyOf(gateway)
    if policy is None:
        raise ManagementError(
            409,
            f"this gateway runs with --pins {OFF}: nothing is withheld, and"
            " `mcpgateway tools approve` edits the pins file itself",
        )
    tools, reviewed = _tools(body)
    try:
        result = policy.approve(server, tools, reviewed)
    except KeyError:
        raise ManagementError(
            404, f"no pins for server '{server}': the gateway has not listed its tools yet"
        ) from None
    except StaleReview as e:
        raise ManagementError(
            409,
            f"tool(s) {e} of server '{server}' changed again since they were reviewed:"
            f" nothing was approved; review them again (mcpgateway tools diff {server})",
        ) from None
    pool = gateway.pools.get(server)
    if result["approved"] and not result["routers"] and pool is not None and not pool.disabled:
        # No child of it lists tools now: its catalog (/mcp) is listed afresh.
        gateway.catalogs.refresh(pool).addErrback(
            lambda reason: log.failure(
                "api: listing server {server} after an approval failed", reason, server=server
            )
        )
    log.info(
        "api: pins of server {server} approved ({tools}) by {by}",
        server=server,
        tools=", ".join(logs.clientText(name) for name in result["approved"]) or "nothing pending",
        **{"by": "the owner", **who},
    )
    return result


def _tools(body: Any) -> tuple[list[str] | None, dict[str, str | None] | None]:
    """The tools of an approval's body (C{None}: all), and the digest of
    the change the person reviewed of each (C{None}: not said): C{"tools"}
    is a list of names, or an object of name -> digest (C{null}: a removal)."""
    if body is None:
        return None, None
    if not isinstance(body, dict):
        raise ManagementError(400, "the body must be a JSON object")
    unknown = sorted(set(body) - {"tools"})
    if unknown:
        raise ManagementError(400, f"unknown field(s): {', '.join(unknown)}")
    tools = body.get("tools")
    if tools is None:
        return None, None
    if isinstance(tools, dict):
        if not tools or not all(
            isinstance(name, str) and (digest is None or isinstance(digest, str))
            for name, digest in tools.items()
        ):
            raise ManagementError(400, "tools: an object of tool name -> reviewed digest (or null)")
        return list(tools), dict(tools)
    if not isinstance(tools, list) or not all(isinstance(name, str) for name in tools):
        raise ManagementError(400, "tools: must be a list of tool names")
    if not tools:
        raise ManagementError(400, "tools: name at least one tool, or leave it out for all")
    return list(tools), None
