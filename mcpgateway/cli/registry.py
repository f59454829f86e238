# -*- test-case-name: tests.cli.test_registry -*-
"""C{mcpgateway registry search QUERY} and C{mcpgateway registry show NAME}:
what an MCP registry lists (the official one unless C{--registry URL} or
C{$MCPGATEWAY_REGISTRY} names another), and what C{mcpgateway add NAME}
would install from it.

The registry is read over HTTP with a size cap and a timeout
(L{mcpgateway.registry.client.urllibFetch}); the gateway need not run.
Registry text is printed with its control characters escaped.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.registry.choose import InstallError, choose, describe, refusal, remoteRefusal
from mcpgateway.registry.client import (
    DEFAULT_REGISTRY,
    REGISTRY_ENV,
    Fetch,
    RegistryApi,
    RegistryClient,
    RegistryError,
    urllibFetch,
)
from mcpgateway.registry.entries import Prompt, promptsOf, shown
from mcpgateway.registry.schema import ServerDetail

DESCRIPTION_WIDTH = 60
"""Characters of a description a search's table shows."""


@dataclass
class RegistrySeams:
    """What the registry commands reach the registry through: a test gives
    a fake C{fetch} (L{mcpgateway.registry.client.Fetch})."""

    fetch: Fetch = field(default_factory=urllibFetch)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


def registryClient(args: argparse.Namespace, seams: RegistrySeams) -> RegistryClient:
    """The client of the registry C{--registry}, else C{$MCPGATEWAY_REGISTRY},
    else the official one."""
    url = args.registry or seams.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY
    try:
        return RegistryClient(RegistryApi.at(url), seams.fetch)
    except RegistryError as e:
        raise CliError(str(e), code=2) from None


def fetchServer(client: RegistryClient, name: str, version: str | None = None) -> ServerDetail:
    """Server C{name} (at C{version}) from the registry, or a L{CliError}
    that says why not (with where to look for a name it does not know)."""
    try:
        return client.server(name, version)
    except RegistryError as e:
        hint = ""
        if "no server named" in str(e) or "no version" in str(e):
            hint = f" ({client.api.root}); `mcpgateway registry search TEXT` finds names"
        raise CliError(f"{e}{hint}") from None


def cmdRegistrySearch(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return runSearch(args, out, RegistrySeams())


def runSearch(args: argparse.Namespace, out: Output, seams: RegistrySeams) -> int:
    """C{registry search}: a table of the servers found (or one JSON document)."""
    if args.limit < 1:
        raise CliError("--limit must be at least 1", code=2)
    client = registryClient(args, seams)
    try:
        found = client.search(args.query, args.limit)
    except RegistryError as e:
        raise CliError(str(e)) from None
    if out.json:
        out.emit(
            {
                "registry": client.api.root,
                "servers": [
                    {
                        "name": s.name,
                        "version": s.version,
                        "description": s.description,
                        "installs": list(s.kinds),
                        "status": s.status,
                    }
                    for s in found.servers
                ],
                "more": found.more,
            }
        )
        return 0
    if not found.servers:
        out.line(f"(nothing in {client.api.root} matches {shown(args.query)!r})")
        return 0
    rows = [("NAME", "VERSION", "INSTALLS", "DESCRIPTION")]
    for s in found.servers:
        description = shown(s.description)
        if len(description) > DESCRIPTION_WIDTH:
            description = description[: DESCRIPTION_WIDTH - 1] + "…"
        kinds = ",".join(s.kinds) or "-"
        if s.status == "deprecated":
            kinds += " (deprecated)"
        rows.append((shown(s.name), shown(s.version), shown(kinds), description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.line("  ".join([*cells, row[3]]).rstrip())
    if found.more:
        out.line(f"(more in {client.api.root}: --limit N shows more, a longer QUERY fewer)")
    out.line("`mcpgateway add NAME` installs one; `mcpgateway registry show NAME` describes it")
    return 0


def cmdRegistryShow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    return runShow(args, out, RegistrySeams())


def runShow(args: argparse.Namespace, out: Output, seams: RegistrySeams) -> int:
    """C{registry show}: one server, what can be installed of it, and the
    values C{add} asks for."""
    client = registryClient(args, seams)
    server = fetchServer(client, args.name, args.version)
    installs, prompts, why = _plan(server)
    if out.json:
        out.emit(
            {
                "registry": client.api.root,
                "name": server.name,
                "version": server.version,
                "title": server.title,
                "description": server.description,
                "status": server.status,
                "websiteUrl": server.websiteUrl,
                "repository": server.repositoryUrl,
                "options": installs,
                "problems": list(server.problems),
                "installs": why is None,
                "refusal": why,
                "asks": [_promptDocument(p) for p in prompts],
            }
        )
        return 0
    for line in renderServer(server, installs, prompts, why):
        out.line(line)
    return 0


def _plan(server: ServerDetail) -> tuple[list[dict[str, Any]], list[Prompt], str | None]:
    """Each package and remote with its refusal (C{None}: installable) and
    whether C{add} would choose it, the prompts of that choice, and why
    nothing can be installed."""
    options: list[tuple[object, str, str, str | None]] = [
        (package, package.registryType, describe(package), refusal(package))
        for package in server.packages
    ]
    options += [
        (remote, "remote", f"remote {remote.type} {remote.url}", remoteRefusal(remote))
        for remote in server.remotes
    ]
    chosen: object = None
    why: str | None = None
    prompts: list[Prompt] = []
    try:
        choice = choose(server)
        prompts = promptsOf(choice)
    except InstallError as e:
        why = str(e)
    else:
        chosen = choice.package or choice.remote
    installs = [
        {"kind": kind, "what": what, "refusal": refused, "chosen": option is chosen}
        for option, kind, what, refused in options
    ]
    return installs, prompts, why


def _promptDocument(prompt: Prompt) -> dict[str, Any]:
    return {
        "key": prompt.key,
        "option": "--env" if prompt.env else "--set",
        "required": prompt.required,
        "secret": prompt.secret,
        "default": prompt.default,
        "choices": list(prompt.choices),
        "description": prompt.description,
    }


def renderServer(
    server: ServerDetail, installs: list[dict[str, Any]], prompts: list[Prompt], why: str | None
) -> list[str]:
    """C{registry show} as lines of text."""
    lines = [f"{shown(server.name)} {shown(server.version)}"]
    if server.title:
        lines.append(f"  {shown(server.title)}")
    if server.description:
        lines.append(f"  {shown(server.description)}")
    if server.status and server.status != "active":
        lines.append(f"  status: {shown(server.status)} {shown(server.statusMessage or '')}")
    for label, value in (("website", server.websiteUrl), ("source", server.repositoryUrl)):
        if value:
            lines.append(f"  {label}: {shown(value)}")
    lines.append("installs:")
    for item in installs:
        mark = "→" if item.get("chosen") else ("✓" if item["refusal"] is None else "✗")
        lines.append(f"  {mark} {shown(item['what'])}")
        if item["refusal"] is not None:
            lines.append(f"      {shown(item['refusal'])}")
    lines += [f"  ✗ {shown(problem)}" for problem in server.problems]
    if why is not None:
        lines.append("`mcpgateway add` cannot install it: nothing above can be")
        return lines
    if prompts:
        lines.append("asks for (`mcpgateway add` prompts, or give them with --env/--set):")
    for prompt in prompts:
        lines.append(f"  {promptLine(prompt)}")
    return lines


def promptLine(prompt: Prompt) -> str:
    """A prompt in one line: C{--env API_KEY=... (required, secret): the key}."""
    notes = [word for word, on in (("required", prompt.required), ("secret", prompt.secret)) if on]
    if prompt.default is not None:
        notes.append(f"default {prompt.default}")
    if prompt.choices:
        notes.append("one of " + "|".join(prompt.choices))
    option = "--env" if prompt.env else "--set"
    text = f"{option} {prompt.key}=..."
    if notes:
        text += f" ({', '.join(notes)})"
    if prompt.description:
        text += f": {prompt.description}"
    return shown(text)


def registryOption(parser: argparse.ArgumentParser) -> None:
    """C{--registry URL}, which every command reading a registry takes."""
    parser.add_argument(
        "--registry",
        metavar="URL",
        help=f"the MCP registry to read (default: ${REGISTRY_ENV}, else {DEFAULT_REGISTRY})",
    )


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    registry = commands.add_parser(
        "registry",
        parents=common,
        help="search an MCP registry, describe one of its servers",
        description="Read an MCP registry (the official one unless --registry or"
        f" ${REGISTRY_ENV} names another): `registry search` lists servers,"
        " `registry show` tells what `mcpgateway add` would install and what it asks for."
        " The gateway need not run.",
    )
    actions = registry.add_subparsers(dest="action", metavar="ACTION", required=True)
    search = actions.add_parser(
        "search",
        parents=common,
        help="servers whose name or description holds QUERY",
        description="List the latest version of each server of the registry whose name"
        " or description holds QUERY (any case), with what it installs as (npm, pypi,"
        " oci, remote).",
    )
    search.add_argument("query", metavar="QUERY")
    search.add_argument(
        "--limit", type=int, default=20, metavar="N", help="list at most N (default 20)"
    )
    registryOption(search)
    search.set_defaults(handler=cmdRegistrySearch)
    show = actions.add_parser(
        "show",
        parents=common,
        help="one server: what it installs as, what it asks for",
        description="Describe server NAME of the registry (its latest version unless"
        " --version): its packages and remotes, which `mcpgateway add` would install"
        " (and why the others cannot be), and the values it asks for.",
    )
    show.add_argument("name", metavar="NAME", help="its registry name: io.github.owner/server")
    show.add_argument("--version", metavar="V", help="that version instead of the latest")
    registryOption(show)
    show.set_defaults(handler=cmdRegistryShow)
