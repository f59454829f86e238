# -*- test-case-name: tests.cli.test_secret -*-
"""C{mcpgateway secret set|list|rm|import|allow}: the secrets behind C{${keyring:NAME}}.

The store is the OS keyring, or an encrypted file in the state directory on
a machine without one (L{mcpgateway.secrets.store}); no gateway needs to
run. C{set NAME} reads the value from stdin when it is not a terminal (one
trailing line end dropped: C{printf %s "$TOKEN" | ...}, C{... < file}), else
asks for it twice without echo; never from the command line, where the
shell's history and C{ps} would keep it. C{list} prints names only. C{import}
moves plain-text tokens of the gateway's own C{servers.json} into the store
(L{mcpgateway.secrets.importing}), asking for each (C{--yes}: all), and
reports those in the gateway's copies of adopted client configs, which it
leaves as they are. C{allow}, C{disallow} and C{allowed} are the approvals
of a project's own entries' references (L{mcpgateway.cli.secretallow}).
Never loads Twisted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from mcpgateway.cli.context import CliContext
from mcpgateway.cli.output import CliError, Output, Parser, Subcommands, plural
from mcpgateway.ops.gatewayprobe import resolveStateDir
from mcpgateway.secrets.store import SecretStore, SecretStoreError, checkName

NOT_FROM_ARGV = (
    "a secret's value is never taken from the command line (the shell's history"
    ' and ps would keep it): pipe it in (printf %s "$VALUE" | mcpgateway secret'
    " set NAME), or run the command in a terminal and type it"
)


def _store(args: argparse.Namespace) -> SecretStore:
    return SecretStore(resolveStateDir(args.state_dir))


def _name(text: str) -> str:
    try:
        return checkName(text)
    except SecretStoreError as e:
        raise CliError(str(e), code=2) from None


def readValue(name: str) -> str:
    """The value to keep as C{name}: stdin (not a terminal) or two prompts."""
    stdin = sys.stdin
    if stdin is not None and not stdin.isatty():
        value = stdin.read().removesuffix("\n").removesuffix("\r")
        if not value:
            raise CliError(f"nothing was read from stdin; {NOT_FROM_ARGV}", code=2)
        return value
    value = getpass.getpass(f"value of secret {name}: ")
    if not value:
        raise CliError("no value given; nothing kept", code=2)
    if getpass.getpass("the same again: ") != value:
        raise CliError("the two values differ; nothing kept", code=2)
    return value


def cmdSecretSet(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    if args.extra or args.valueOption is not None:
        raise CliError(NOT_FROM_ARGV, code=2)
    name = _name(args.name)
    store = _store(args)
    value = readValue(name)
    try:
        where = store.put(name, value)
    except SecretStoreError as e:
        raise CliError(f"secret {name} not kept: {e}") from None
    except OSError as e:
        raise CliError(f"secret {name} not kept: {e.strerror or e}") from None
    if out.json:
        out.emit({"ok": True, "name": name, "store": where})
    else:
        out.note(
            f"secret {name} kept in {where}; an entry's env, args or headers use it"
            f" as ${{keyring:{name}}}"
        )
    return 0


def cmdSecretList(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    store = _store(args)
    try:
        names = store.names()
    except SecretStoreError as e:
        raise CliError(str(e)) from None
    if out.json:
        out.emit({"ok": True, "names": names, "store": store.where()})
        return 0
    for name in names:
        out.line(name)
    out.note(f"{plural(len(names), 'secret')} in {store.where()}")
    return 0


def cmdSecretRemove(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    name = _name(args.name)
    try:
        found = _store(args).remove(name)
    except SecretStoreError as e:
        raise CliError(str(e)) from None
    if not found:
        raise CliError(f"there is no secret {name}")
    if out.json:
        out.emit({"ok": True, "name": name, "removed": True})
    else:
        out.note(f"secret {name} removed; entries that use ${{keyring:{name}}} cannot start now")
    return 0


def cmdSecretImport(args: argparse.Namespace, out: Output, ctx: CliContext) -> int:
    from mcpgateway.secrets.importing import adoptedFindings

    stateDir = resolveStateDir(args.state_dir)
    store = SecretStore(stateDir)
    if args.undo:
        return _undo(stateDir, store, out)
    moved = _importServersFile(stateDir, store, args.yes, out)
    adopted = adoptedFindings(stateDir)
    for found in adopted:
        out.note(
            f"{found.configPath}: server '{found.server}': env {found.variable} looks like a"
            f" token, in plain text in the gateway's copy of it ({found.backup}); left as it"
            " is: the gateway gives that entry back to its client as it was. To keep it by"
            " reference, add the server to the gateway's own config with"
            f' "{found.variable}": "${{keyring:NAME}}" (mcpgateway secret set NAME)'
        )
    if out.json:
        out.emit(
            {
                "ok": True,
                "moved": moved,
                "adopted": [
                    {"config": f.configPath, "server": f.server, "env": f.variable} for f in adopted
                ],
            }
        )
    return 0


def _importServersFile(stateDir: Path, store: SecretStore, yes: bool, out: Output) -> list[Any]:
    """Move the accepted tokens of C{servers.json}; what was moved."""
    from mcpgateway.config.serversfile import ServersFile
    from mcpgateway.secrets.importing import findings

    servers = ServersFile(stateDir)
    document = _readDocument(servers.path)
    if document is None:
        out.note(f"{servers.path} does not exist: no plain-text tokens in it")
        return []
    found = findings(document)
    if not found:
        out.note(f"no plain-text tokens in {servers.path}")
        return []
    accepted = [f for f in found if yes or _ask(f"{f.label}: move it to the secret store?")]
    if not accepted:
        out.note("nothing moved")
        return []
    names = _keep(store, accepted)
    _rewriteServersFile(stateDir, store, servers, names)
    for finding, name in names.items():
        out.note(f"{finding.label} is now ${{keyring:{name}}}")
    out.note(
        f"rewrote {servers.path} (the copy before it, sealed: mcpgateway secret import"
        " --undo); the gateway serves it so from its next start"
    )
    return [
        {"server": f.server, "section": f.section, "env": f.variable, "name": name}
        for f, name in names.items()
    ]


def _readDocument(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CliError(f"{path} cannot be read ({e}); nothing moved") from None
    if not isinstance(document, dict):
        raise CliError(f"{path} does not hold a JSON object; nothing moved")
    return document


def _keep(store: SecretStore, accepted: list[Any]) -> dict[Any, str]:
    """Keep each accepted finding's value in the store (checked by reading
    it back); the name of each."""
    from mcpgateway.secrets.importing import secretNameFor

    try:
        existing: dict[str, str | None] = {name: store.get(name) for name in store.names()}
        names = {}
        for finding in accepted:
            name, new = secretNameFor(finding, existing)
            if new:
                store.put(name, finding.value)
                if store.get(name) != finding.value:
                    raise SecretStoreError(f"secret {name} does not read back as it was written")
            existing[name] = finding.value
            names[finding] = name
    except SecretStoreError as e:
        raise CliError(f"{e}; servers.json is unchanged") from None
    return names


def _rewriteServersFile(
    stateDir: Path, store: SecretStore, servers: Any, names: dict[Any, str]
) -> None:
    """Seal a copy of C{servers.json} as it is now, then write it with the
    references in place (both atomically)."""
    from mcpgateway.runtime.atomicfile import writeFileAtomic
    from mcpgateway.secrets.importing import BACKUP_FILE, rewrite

    before = servers.path.read_bytes()  # read again: the API may have written it since
    document = json.loads(before)
    updated, count = rewrite(document, names)
    if count == 0:
        return
    writeFileAtomic(stateDir / BACKUP_FILE, store.seal(before), mode=0o600)
    servers.write(updated)


def _undo(stateDir: Path, store: SecretStore, out: Output) -> int:
    from mcpgateway.config.serversfile import ServersFile
    from mcpgateway.runtime.atomicfile import writeFileAtomic
    from mcpgateway.secrets.importing import BACKUP_FILE

    backup = stateDir / BACKUP_FILE
    try:
        sealed = backup.read_bytes()
    except FileNotFoundError:
        raise CliError(f"there is no copy to put back ({backup} does not exist)") from None
    try:
        before = store.unseal(sealed)
    except SecretStoreError as e:
        raise CliError(f"{backup} cannot be opened: {e}") from None
    path = ServersFile(stateDir).path
    writeFileAtomic(path, before, mode=0o600)
    os.unlink(backup)
    if out.json:
        out.emit({"ok": True, "restored": str(path)})
    else:
        out.note(
            f"put back {path} as it was before the import (the secrets stay in the store:"
            " mcpgateway secret rm NAME)"
        )
    return 0


def _ask(question: str) -> bool:
    """A y/N answer from stdin (a person at a terminal, or a script's pipe);
    anything but yes, or the end of the input, is no."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin is None:
        return False
    answer = sys.stdin.readline()
    if not sys.stdin.isatty():
        sys.stderr.write("\n")  # a piped answer is not echoed
    return answer.strip().lower() in ("y", "yes")


def addParser(commands: Subcommands[Parser], common: list[Parser]) -> None:
    secret = commands.add_parser(
        "secret",
        parents=common,
        help="keep the secrets that entries name as ${keyring:NAME}",
        description="The secret store behind ${keyring:NAME} in a server entry's env, args"
        " or headers: the OS keyring, or an encrypted file in the state directory where"
        " there is none. See docs/guide/secrets.md.",
    )
    actions = secret.add_subparsers(dest="action", metavar="ACTION", required=True)
    put = actions.add_parser(
        "set",
        parents=common,
        help="keep a secret: secret set NAME (the value from stdin or a prompt)",
        description="Keep a secret called NAME. Its value is read from stdin when stdin is"
        " not a terminal (one trailing newline dropped), else typed twice at a prompt"
        " without echo; never taken from the command line.",
    )
    put.add_argument("name", metavar="NAME", help="its name: letters, digits, '_', '.', '-'")
    # Caught to refuse them without repeating them (argparse's own error would).
    put.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    put.add_argument("--value", dest="valueOption", help=argparse.SUPPRESS)
    put.set_defaults(handler=cmdSecretSet)
    listing = actions.add_parser(
        "list",
        parents=common,
        help="the names of the secrets kept (never their values)",
        description="Print the names of the secrets kept, one a line; never a value.",
    )
    listing.set_defaults(handler=cmdSecretList)
    remove = actions.add_parser(
        "rm",
        parents=common,
        help="forget a secret: secret rm NAME",
        description="Forget the secret NAME (from the keyring and the encrypted file).",
    )
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=cmdSecretRemove)
    move = actions.add_parser(
        "import",
        parents=common,
        help="move plain-text tokens of the gateway's servers.json to the secret store",
        description="Find values in the env of the gateway's own servers.json that look"
        " like tokens, offer each (y/N), keep the accepted ones in the secret store and"
        " rewrite servers.json to ${keyring:NAME} (a sealed copy of it is kept first)."
        " Tokens in the gateway's copies of adopted client configs are reported, never"
        " rewritten; a client's own file is never touched.",
    )
    move.add_argument("--yes", "-y", action="store_true", help="move every one found, unasked")
    move.add_argument(
        "--undo",
        action="store_true",
        help="put servers.json back as it was before the last import",
    )
    move.set_defaults(handler=cmdSecretImport)
    from mcpgateway.cli.secretallow import addParsers

    addParsers(actions, common)
