# -*- test-case-name: tests.cli.test_policy_cli -*-
"""C{mcpgateway policy test --policy FILE --principal P [--group G ...]
--call SERVER/TOOL '{args}'}: decide one call offline with the policy a
gateway would load (L{mcpgateway.governance.policy}), and print the
decision and the policies that decided (C{--json}: as a document). Exit 0
when allowed, 1 when denied or held for a person's yes (C{APPROVAL}), 2
when the policy does not parse. C{--label} and C{--tool-label} give the
data-origin labels the client gathered and the tool's (docs/guide/flow.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import Output, Parser, Subcommands

LABEL_WORDS = ("untrusted", "private", "egress")


def cmdPolicyTest(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    from mcpgateway.governance.policy import Caller, PolicyError, RequestFacts, TargetServer
    from mcpgateway.governance.policyfile import readPolicy

    server, _, name = str(args.call).partition("/")
    try:
        arguments = json.loads(args.arguments)
    except ValueError as e:
        out.line(f"the arguments are not JSON: {e}")
        return 2
    if not server or not name or not isinstance(arguments, dict):
        out.line("--call takes SERVER/TOOL and the arguments a JSON object")
        return 2
    labels, toolLabels = frozenset(args.labels), frozenset(args.tool_labels)
    unknown = sorted((labels | toolLabels) - set(LABEL_WORDS))
    if unknown:
        out.line(f"unknown label(s) {', '.join(unknown)}: they are {', '.join(LABEL_WORDS)}")
        return 2
    try:
        policy = readPolicy(Path(args.policy), args.default)
    except PolicyError as e:
        out.line(f"the policy does not parse: {e}")
        return 2
    claims = tuple(sorted((c.partition("=")[0], c.partition("=")[2]) for c in args.claim))
    caller = Caller(args.principal, frozenset(args.group), claims, args.admin, "oauth")
    facts = RequestFacts(
        caller,
        args.action,
        TargetServer(server, args.kind),
        name,
        arguments,
        args.client,
        "",
        time.time(),
        args.source,
        labels,
        toolLabels,
    )
    decision = policy.decide(facts)
    target = TargetServer(server, args.kind)
    listed = policy.visible(RequestFacts(caller, args.action, target, name, toolLabels=toolLabels))
    if out.json:
        out.emit(
            {
                "outcome": decision.outcome,
                "policies": list(decision.policies),
                "reason": decision.reason,
                "listed": listed,
                "warnings": list(policy.warnings),
            }
        )
    else:
        decided = ", ".join(decision.policies) or "(no policy: the default)"
        out.line(f"{decision.outcome.upper()} {args.action} {server}/{name}: {decided}")
        if decision.reason:
            out.note(decision.reason)
        out.note("listed to this principal" if listed else "not listed to this principal")
        for warning in policy.warnings:
            out.note(f"warning: {warning}")
    return 0 if decision.allowed else 1


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    policy = commands.add_parser(
        "policy",
        parents=common,
        help="try a --policy file offline: policy test",
        description="The Cedar policy (--policy FILE) a team gateway enforces"
        " (docs/guide/policy.md).",
    )
    actions = policy.add_subparsers(dest="action_", metavar="ACTION", required=True)
    test = actions.add_parser(
        "test",
        parents=common,
        help="decide one call offline and print the policies that decided",
        description="Decide one call with the policy of --policy, as the gateway would,"
        " and print the decision and the ids of the policies that decided. Exit 0 when"
        " allowed, 1 when denied, 2 when the policy or the call is not usable.",
    )
    test.add_argument("--policy", required=True, metavar="FILE", help="the Cedar policy file")
    test.add_argument("--principal", required=True, help="the principal's name")
    test.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    test.add_argument(
        "--claim", action="append", default=[], metavar="NAME=VALUE", help="a token claim"
    )
    test.add_argument("--admin", action="store_true", help="the principal is an admin")
    test.add_argument("--call", required=True, metavar="SERVER/TOOL", help="what is called")
    test.add_argument("arguments", nargs="?", default="{}", help="the arguments, a JSON object")
    test.add_argument("--action", default="tools/call", help="the MCP method (default tools/call)")
    test.add_argument("--kind", default="stdio", help="the server's kind (stdio, remote, openapi)")
    test.add_argument("--client", default="", help="the client's name")
    test.add_argument("--source", default="", help="the caller's IP address")
    test.add_argument(
        "--label",
        action="append",
        default=[],
        dest="labels",
        help="a label the client has gathered (context.labels; repeatable)",
    )
    test.add_argument(
        "--tool-label",
        action="append",
        default=[],
        dest="tool_labels",
        help="a label of the tool (resource.labels; repeatable)",
    )
    test.add_argument(
        "--default",
        choices=("allow", "deny"),
        default="deny",
        help="as --policy-default (default deny)",
    )
    test.set_defaults(handler=cmdPolicyTest)
