# -*- test-case-name: tests.cli.test_sandbox -*-
"""C{mcpgateway sandbox check|show|suggest|approve}: which confinement works on this
machine, and what a server's children may see and do (docs/guide/sandbox.md).

C{check} says which mechanism confines children, why the others do not,
and what each that works does NOT confine on this machine, and what
neither does (L{mcpgateway.sandbox.gaps}): the running gateway's, from its
own probe, when one runs; else what the probe (bubblewrap with a child's
namespaces, Landlock's ABI) finds from this shell, and it says which
(L{mcpgateway.cli.sandboxfacts}). C{show NAME} reads
the server's entry as the gateway does (its config and C{servers.json})
and prints its profile, whether it is confined (its entry, and the
running gateway's C{--sandbox}), the mechanism (the running gateway's, or
the one C{--sandbox} names, if it names one) and what it leaves out, and
its layout: what it reads, writes, never sees. C{suggest NAME} is
L{mcpgateway.cli.sandboxlearn}'s; C{approve NAME} (a project's entry that
asks for more than the default profile) is
L{mcpgateway.cli.sandboxapprove}'s. Also here: what C{doctor} says of the
sandbox (L{checkSandbox}).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mcpgateway.cli.checks import Check, DoctorContext
from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands
from mcpgateway.cli.sandboxapprove import addApprove
from mcpgateway.cli.sandboxfacts import NAMES, SandboxFacts, sandboxFacts
from mcpgateway.cli.sandboxlearn import addSuggest
from mcpgateway.cli.sandboxspec import projectSpec, serverSpec
from mcpgateway.ops.gatewayprobe import GatewayProbe, resolveStateDir
from mcpgateway.sandbox import bwrap, layout, mechanisms, packagecopy, request, seatbelt
from mcpgateway.startup.sandboxing import DEFAULT, MODES

BROWSERS = (
    "under Landlock Chromium starts only without network (a server with network gets no"
    " UNIX socket, and Chromium makes one), and @playwright/mcp not even then (it connects"
    " to its browser's socket): bubblewrap runs both"
)
"""C{check}'s note under Landlock (docs/guide/sandbox.md, what is not
confined yet)."""
SETTINGS = {
    "unset": "its entry says nothing",
    "on": "its entry asks for it",
    "off": 'its entry says "sandbox": false',
    "learn": 'its entry says "learn": your home read-only, every public host through the'
    " proxy, what it uses recorded (`mcpgateway sandbox suggest NAME`)",
}


def probeText(found: dict[str, Any], mechanism: str | None = None) -> list[str]:
    """What the probe found, a line a mechanism, then the verdict: that
    C{mechanism} confines children (default: the one the probe found)."""
    bw, landlock = found.get("bwrap") or {}, found.get("landlock") or {}
    lines = []
    if bw.get("works"):
        lines.append(f"bubblewrap: works ({bw.get('version') or '?'}, {bw.get('path')})")
        lines += gapsText(found, "bwrap")
    else:
        lines.append(f"bubblewrap: does not work here: {bw.get('error')}")
    if landlock.get("abi"):
        lines.append(f"Landlock: ABI {landlock['abi']}")
        lines += gapsText(found, "landlock")
        if (found.get("seccomp") or {}).get("works"):
            lines.append(f"  {BROWSERS}")
    else:
        lines.append(f"Landlock: not available: {landlock.get('error')}")
    lines += filterText(found)
    neither = gaps(found, "neither")
    if neither and (bw.get("works") or landlock.get("abi")):
        lines += ["neither mechanism confines:", *(f"  - {gap}" for gap in neither)]
    mechanism = mechanism or str(found.get("mechanism") or "none")
    if mechanism == "seatbelt":
        lines.append("confined children run in sandbox-exec (macOS; untested)")
    elif mechanism == "bwrap":
        lines.append("confined children run in bubblewrap")
    elif mechanism == "landlock":
        filtered = bool((found.get("seccomp") or {}).get("works"))
        lines.append(
            "confined children are confined with Landlock: their files"
            + (", and their sockets by the system-call filter" if filtered else " only")
            + " (no pid namespace, no private /tmp: the lines above say what it leaves open)"
        )
    else:
        lines.append(
            "nothing confines children here: they would run unconfined (install bubblewrap,"
            " allow unprivileged user namespaces, or use a kernel with Landlock)"
        )
    if found.get("root"):
        lines.append("as root, the kernel does not enforce a child's process limit")
    return lines


def gaps(found: dict[str, Any], mechanism: str) -> list[str]:
    """What C{mechanism} does NOT confine here, as the probe C{found} (its
    C{"gaps"})."""
    return [str(gap) for gap in (found.get("gaps") or {}).get(mechanism) or ()]


def gapsText(found: dict[str, Any], mechanism: str) -> list[str]:
    """C{check}'s lines of what C{mechanism} does NOT confine here, one a
    gap (none when it leaves nothing out)."""
    left = gaps(found, mechanism)
    if not left:
        return []
    return [f"  {NAMES[mechanism]} does NOT confine here:", *(f"    - {gap}" for gap in left)]


def filterText(found: dict[str, Any]) -> list[str]:
    """The system-call filter's line of C{check} (none where the probe does
    not say: macOS)."""
    filtering = found.get("seccomp")
    if not isinstance(filtering, dict):
        return []
    if not filtering.get("works"):
        return [
            f"system calls: NOT filtered: {filtering.get('error')} (confined children run"
            " without the filter)"
        ]
    line = (
        f"system calls: filtered (libseccomp {filtering.get('version')},"
        f" {filtering.get('rules')} rules; docs/guide/sandbox.md, System calls)"
    )
    unknown = filtering.get("unknown") or []
    if unknown:
        line += f"; this libseccomp does not know {', '.join(unknown)}"
    return [line]


def cmdSandboxCheck(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    facts = sandboxFacts(ctx, ctx.probe(resolveStateDir(args.state_dir)))
    if out.json:
        out.emit({**facts.found, "mechanism": facts.mechanism, "source": facts.toJson()})
    else:
        out.line(facts.said())
        for line in probeText(facts.found, facts.mechanism):
            out.line(line)
    return 0 if facts.mechanism != "none" else 1


def cmdSandboxShow(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    stateDir = resolveStateDir(args.state_dir)
    found = ctx.probe(stateDir)
    if args.workspace is not None:
        spec = projectSpec(args.server, stateDir, args.workspace, found, args.config)
    else:
        try:
            spec = serverSpec(args.server, stateDir, found, args.config)
        except CliError as e:
            raise CliError(
                f"{e}; a server of a project's own file (its .mcp.json, .vscode/mcp.json...):"
                f" mcpgateway sandbox show {args.server} --workspace DIR"
            ) from None
    if spec.remote is not None:
        raise CliError(f"server '{spec.name}' is a remote server: it has no process to confine")
    default = args.gateway or str((found.state or {}).get("sandbox") or DEFAULT)
    confined = spec.sandbox.confined("off" if default == "off" else "auto")
    facts = sandboxFacts(ctx, found, default)
    probed = facts.found
    mechanism = facts.mechanism
    if args.gateway is not None or not facts.fromGateway:  # as that --sandbox would choose
        mechanism = mechanisms.FORCED.get(default) or str(probed.get("mechanism") or "none")
    argv = [spec.executable or spec.command, *spec.args]
    environ = spec.environment(os.environ)
    asked = request.build(
        spec,
        environ,
        str(stateDir),
        probed,
        argv=argv,
        others=[],
        python=sys.executable,
        parent=os.getpid(),
        gatewayCwd=os.getcwd(),
    )
    view = layout.build(asked, argv, environ)
    document = {
        "server": spec.name,
        "confined": confined,
        "setting": spec.sandbox.setting,
        "gatewayDefault": default,
        "mechanism": mechanism if confined else None,
        "profile": spec.sandbox.toJson(),
        "network": asked["network"],
        "syscalls": asked["syscalls"],
        "layout": view.toJson(),
        "source": facts.toJson(),
    }
    document["syscallFilter"] = bool((probed.get("seccomp") or {}).get("works"))
    document["landlockAbi"] = int((probed.get("landlock") or {}).get("abi") or 0)
    proxied = _proxyLine(ctx, found, spec.name)
    if proxied is not None:
        document["proxy"] = proxied
    if confined:
        why = (
            mechanisms.unworkable(probed, mechanism) if mechanism in ("bwrap", "landlock") else None
        )
        if why is not None:
            document["unworkable"] = why
        document["gaps"] = gaps(probed, mechanism)
        if os.path.basename(spec.command) == "npx" and mechanism not in ("seatbelt", "none"):
            document["packageCopy"] = packagecopy.copyPath(str(stateDir), asked["copyKey"])
    path = (probed.get("bwrap") or {}).get("path")
    if mechanism == "bwrap" and isinstance(path, str):
        document["command"] = bwrap.command(path, view, argv, os.geteuid() == 0)
    elif mechanism == "seatbelt":
        document["command"] = seatbelt.command(view, argv)
    if out.json:
        out.emit(document)
        return 0
    for line in showText(document):
        out.line(line)
    return 0


def _proxyLine(ctx: CliContext, found: GatewayProbe, server: str) -> dict[str, Any] | None:
    """What the running gateway's allow-list proxy did for C{server}'s
    children (its C{/health} line), or C{None}."""
    from mcpgateway.cli.http import fetchHealth

    if not found.running:
        return None
    try:
        health = fetchHealth(ctx.http, found, ctx.timeouts.http)
    except (CliError, OSError, ValueError):
        return None
    line = ((health.get("servers") or {}).get(server) or {}).get("network")
    return line if isinstance(line, dict) else None


def showText(document: dict[str, Any]) -> list[str]:
    """C{sandbox show} for a person."""
    shown = document["layout"]
    entry = SETTINGS.get(str(document["setting"]), "its entry says nothing")
    verdict = "confined" if document["confined"] else "NOT confined"
    lines = [
        f"server {document['server']}: {verdict} ({entry}; the gateway's --sandbox"
        f" {document['gatewayDefault']})"
    ]
    if document["confined"]:
        name = NAMES.get(str(document["mechanism"]), document["mechanism"])
        if document.get("unworkable"):
            lines.append(
                f"mechanism: {name}, which does not work here ({document['unworkable']}):"
                " its children fail to start"
            )
        else:
            origin = (document.get("source") or {}).get("origin")
            lines.append(f"mechanism: {name}" + (f" ({origin})" if origin else ""))
        if document.get("gaps"):
            lines.append(f"{name} does NOT confine here: {'; '.join(document['gaps'])}")
    network = document["network"]
    domains = ", ".join(network["allowedDomains"])
    enforced = "not enforced without bubblewrap: the host's network"
    if document.get("mechanism") in ("bwrap", "auto"):
        enforced = "through the gateway's proxy"
    elif document.get("mechanism") == "landlock" and int(document.get("landlockAbi") or 0) >= 4:
        enforced = "through the gateway's proxy, by port only under Landlock"
    lines.append(f"network: {network['mode']}" + (f" ({domains}: {enforced})" if domains else ""))
    if document["confined"]:
        lines.append(syscallsLine(document))
    proxied = document.get("proxy")
    if proxied:
        hosts = ", ".join(proxied.get("refusedHosts") or ()) or "none"
        lines.append(
            f"proxy: {proxied.get('open', 0)} open, {proxied.get('refused', 0)} refused"
            f" (refused: {hosts})"
        )
    for label, key in (
        ("reads", "readOnly"),
        ("writes", "writable"),
        ("never sees", "masked"),
        ("its own, empty", "private"),
    ):
        if shown[key]:
            lines.append(f"{label}: {', '.join(shown[key])}")
    variables = shown.get("variables") or {}
    if variables:  # its launcher's caches: its own (the user's copies read-only)
        named = ", ".join(f"{name}={path}" for name, path in variables.items())
        lines.append(f"its launcher's caches: {named}")
    copy = document.get("packageCopy")
    if copy:
        lines.append(f"its own copy of its package, where it writes beside its code: {copy}")
    for note in shown["notes"]:
        lines.append(f"note: {note}")
    return lines


def syscallsLine(document: dict[str, Any]) -> str:
    """C{show}'s line of the system-call filter."""
    if document["syscalls"] != "filtered":
        why = "learning" if document["setting"] == "learn" else 'its entry says "unfiltered"'
        return f"system calls: not filtered ({why})"
    if document.get("mechanism") not in ("bwrap", "landlock"):
        return "system calls: not filtered (only bubblewrap and Landlock children are)"
    if not document.get("syscallFilter"):
        return "system calls: not filtered (libseccomp is missing here)"
    return (
        "system calls: filtered (docs/guide/sandbox.md, System calls;"
        ' "syscalls": "unfiltered" lifts it)'
    )


def checkSandbox(ctx: DoctorContext) -> Check:
    """Whether the running gateway's children are confined, with what, and
    what that does NOT confine: as the gateway says (its own probe,
    L{sandboxFacts}), else as the probe finds from here, saying so (only
    when it confines every server: C{--sandbox auto}, C{bubblewrap} or
    C{landlock})."""
    if not ctx.found.running:
        return Check(
            "info",
            f"Sandbox: no gateway running (one confines every stdio child unless"
            f" --sandbox off; the default: {DEFAULT}); `mcpgateway sandbox check` says what"
            " works here",
        )
    mode = str((ctx.found.state or {}).get("sandbox") or "off")
    if mode not in MODES or mode == "off":
        return Check(
            "info",
            "Sandbox: only the servers whose entry asks are confined (--sandbox off);"
            " `mcpgateway sandbox check` says what works here",
        )
    facts = sandboxFacts(ctx.cli, ctx.found, mode)
    return _confinement(facts, facts.mode or mode)


def _confinement(facts: SandboxFacts, mode: str) -> Check:
    """L{checkSandbox}'s verdict on C{facts}, the gateway's C{--sandbox} C{mode}."""
    found, mechanism = facts.found, facts.mechanism
    name = NAMES[mechanism]
    if facts.fromGateway:
        gateway = f"the running gateway (pid {facts.pid})"
        where, said = f"for {gateway}", ""
        whose, confined = f"the children of {gateway}", f"{gateway} confines its children with"
    else:
        where, whose, confined = "here", "children here", "children are confined with"
        said = f" (found from this shell: the running gateway did not say: {facts.why})"
    forced = mechanisms.FORCED.get(mode)
    why = None if forced is None else mechanisms.unworkable(found, forced)
    if why is not None:
        return Check(
            "fail",
            f"Sandbox: --sandbox {mode}, but {name} does not work {where}"
            f" ({why}): confined children fail to start{said}",
            "install and allow it (`mcpgateway sandbox check` says why it fails), or restart"
            " the gateway with --sandbox auto",
        )
    if mechanism == "none":
        return Check(
            "fail",
            f"Sandbox: nothing confines {whose}: they run unconfined{said}",
            "install bubblewrap (apt-get install bubblewrap) and allow unprivileged user"
            " namespaces; `mcpgateway sandbox check` says why each mechanism fails",
        )
    status = "pass" if mechanism == "bwrap" else "info"
    left = gaps(found, mechanism)
    unconfined = f"; it does NOT confine here: {'; '.join(left)}" if left else ""
    confined = f"Sandbox: {confined} {name}"
    filtering = found.get("seccomp")
    if not isinstance(filtering, dict):  # macOS: no seccomp
        return Check(status, f"{confined}{unconfined}{said}")
    if not filtering.get("works"):
        return Check(
            "info",
            f"{confined}, without their system-call filter: {filtering.get('error')}"
            f"{unconfined}{said}",
            "install libseccomp (apt-get install libseccomp2)",
        )
    return Check(status, f"{confined}, their system calls filtered{unconfined}{said}")


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    sandbox = commands.add_parser(
        "sandbox",
        parents=common,
        help="what confines the servers' children here, and what a server may do",
        description="Every stdio child can run in a sandbox (docs/guide/sandbox.md): bubblewrap,"
        " else Landlock. `check` says which works on this machine; `show NAME` prints a"
        " server's profile, the mechanism and what its children read, write and never see;"
        ' `suggest NAME` the profile a server learned with "sandbox": "learn"; `approve NAME`'
        " lets a project's own entry have the wider sandbox it asks for.",
    )
    actions = sandbox.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        parents=common,
        help="which confinement the children get, and why not the others",
        description="Which mechanism confines the children, and why the others do not: the"
        " running gateway's, as its own probe found (its PATH); with none running, what"
        " running bubblewrap with a child's namespaces and asking the kernel for Landlock"
        " find from this shell. The first line says which. Exit status 1 when none does.",
    )
    check.set_defaults(handler=cmdSandboxCheck)
    show = actions.add_parser(
        "show",
        parents=common,
        help="a server's profile, mechanism and layout",
        description="The profile in force for server NAME, read from the config as the"
        " gateway reads it (npx/uvx servers as configured: the gateway runs them resolved"
        " to their package's program, in the state directory).",
    )
    show.add_argument("server", metavar="NAME")
    show.add_argument("--config", metavar="FILE", help="the config file (default: the gateway's)")
    show.add_argument(
        "--workspace",
        metavar="DIR",
        help="a server of that project's own files (its .mcp.json, .vscode/mcp.json...), as"
        " the gateway serves it: narrowed to the default profile until approved",
    )
    show.add_argument(
        "--gateway",
        choices=MODES,
        help="the gateway's --sandbox to assume (default: the running gateway's, else auto)",
    )
    show.set_defaults(handler=cmdSandboxShow)
    addSuggest(actions, common)
    addApprove(actions, common)
