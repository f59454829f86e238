# -*- test-case-name: tests.bridge.test_main -*-
"""C{mcpgateway bridge SERVER|URL}: serve one gateway server to a stdio-only
MCP client (L{mcpgateway.bridge}).

The only command that runs the reactor: it is imported, with Twisted, inside
the handler, so every other command stays Twisted-free and fast."""

from __future__ import annotations

import argparse

from mcpgateway.bridge.options import (
    addArguments,
    checkTarget,
    fromNamespace,
    isUrl,
    leaveOutTLS,
)
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.ops.gatewayprobe import resolveStateDir


def cmdBridge(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    problem = checkTarget(args.target)
    if problem is not None:
        raise CliError(problem, 2)
    stateDir = resolveStateDir(args.state_dir)
    words = [args.target]
    if not isUrl(args.target) and ctx.probe(stateDir).tls:
        words.append("https://")  # a gateway on TLS: the bridge needs pyOpenSSL
    leaveOutTLS(words)
    from mcpgateway.bridge.main import runBridge

    return runBridge(fromNamespace(args, stateDir))


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    bridge = commands.add_parser(
        "bridge",
        parents=common,
        help="relay a stdio MCP client to a gateway server (for stdio-only clients)",
        description="Speak MCP over stdio (newline-delimited JSON-RPC on stdin/stdout, logs"
        " on stderr) and relay every message to the gateway's server over Streamable"
        " HTTP. Starts the gateway when none runs, ignores SIGINT, survives gateway"
        " restarts; ends on stdin EOF or SIGTERM.",
    )
    addArguments(bridge)
    bridge.set_defaults(handler=cmdBridge)
