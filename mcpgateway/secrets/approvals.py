# -*- test-case-name: tests.secrets.test_approvals,tests.secrets.test_repository_entries -*-
"""The user's approvals of the secret references of a project's own entries.

Secret references (C{${keyring:NAME}}, C{${op://...}}, C{${env:NAME}},
C{${file:PATH}}; and in a project's own entry a C{${NAME}} of the user's
environment, read as C{${env:NAME}}: L{mcpgateway.config.projectenv}) name
the user's secrets, so they resolve in the user's own
config only. An entry of a project's own file (a repository's C{.mcp.json},
C{.cursor/mcp.json}, C{.vscode/mcp.json}...: its spec's C{origin},
L{mcpgateway.config.origins}) is refused its references (L{refusal}) unless
the user approved that very entry: an L{SecretsApproval} names the server, the
project directory, the file, the entry's digest and its references, so an
entry that changes in anything (another command, another argument, another
reference) is not the approved one any more and is refused again.

The approvals are kept in C{<state-dir>/}L{APPROVALS_FILE} (mode 0600),
written by C{mcpgateway secret allow} (L{allow}, from the entries the
running gateway serves: L{candidates}) and C{secret disallow}
(L{disallow}); the resolver reads them in a thread each time such a child
starts (L{mcpgateway.secrets.resolve}). Blocking file work; no Twisted.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.config.approvalfile import ApprovalFile
from mcpgateway.config.approvalfile import ApprovalsError as ApprovalsError  # its callers' error
from mcpgateway.config.envfiles import readWorkspaceEnv
from mcpgateway.config.origins import entryDigest
from mcpgateway.config.projectenv import asReferences
from mcpgateway.config.references import BadReference, referencesOf
from mcpgateway.config.servers import isRemoteEntry
from mcpgateway.core.spec import ServerSpec

APPROVALS_FILE = "secret-approvals.json"
"""The approvals, in the state directory (no values: names and digests)."""


@dataclass(frozen=True)
class SecretsApproval:
    """The user's approval of one project entry's secret references."""

    server: str
    workspace: str
    """The project directory (its real path)."""
    file: str
    """The project's file the entry was in when approved."""
    digest: str
    """The entry's digest (L{mcpgateway.config.origins.entryDigest})."""
    references: tuple[str, ...]
    """Its secret references, as written (sorted)."""

    def toJson(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "workspace": self.workspace,
            "file": self.file,
            "digest": self.digest,
            "references": list(self.references),
        }

    @classmethod
    def fromJson(cls, data: object) -> SecretsApproval | None:
        """The approval C{data} holds, C{None} when it is not one."""
        if not isinstance(data, dict):
            return None
        words = [data.get(key) for key in ("server", "workspace", "file", "digest")]
        references = data.get("references")
        if not all(isinstance(word, str) and word for word in words) or not (
            isinstance(references, list) and all(isinstance(r, str) for r in references)
        ):
            return None
        server, workspace, file, digest = (str(word) for word in words)
        return cls(server, workspace, file, digest, tuple(sorted(references)))

    def covers(self, spec: ServerSpec) -> bool:
        """Whether this approves C{spec}'s references: the same server, project
        and entry (digest), with the same references."""
        origin = spec.origin
        return (
            origin is not None
            and self.server == spec.name
            and self.workspace == origin.workspace
            and self.digest == origin.digest
            and self.references == tuple(sorted(spec.references))
        )


FILE: ApprovalFile[SecretsApproval] = ApprovalFile(
    APPROVALS_FILE, lambda item: SecretsApproval.fromJson(item)
)
"""The file itself (L{mcpgateway.config.approvalfile})."""


def approvalsPath(stateDir: Path) -> Path:
    return FILE.path(stateDir)


def readApprovals(stateDir: Path) -> list[SecretsApproval]:
    """The approvals kept in C{stateDir} (none when there is no file).

    @raise ApprovalsError: the file cannot be read, or is not the gateway's.
    """
    return FILE.read(stateDir)


def writeApprovals(stateDir: Path, approvals: Iterable[SecretsApproval]) -> None:
    """Keep C{approvals} in C{stateDir} (atomically, mode 0600)."""
    FILE.write(stateDir, approvals)


def allow(stateDir: Path, approval: SecretsApproval) -> None:
    """Keep C{approval}, in place of any earlier one of the same server,
    project and file."""
    FILE.keep(stateDir, approval)


def disallow(stateDir: Path, server: str, workspace: str) -> int:
    """Forget the approvals of C{server} in the project C{workspace}; how many."""
    return FILE.forget(stateDir, server, workspace)


def allowCommand(server: str, workspace: str) -> str:
    """The command that approves C{server}'s entry of the project C{workspace}."""
    return f"mcpgateway secret allow {shlex.quote(server)} --workspace {shlex.quote(workspace)}"


def refusal(
    spec: ServerSpec, wanted: Sequence[str], approvals: Sequence[SecretsApproval]
) -> str | None:
    """Why the references C{wanted} of C{spec} are not resolved, in one line
    that says how to allow them; C{None}: they are (the entry is the
    user's own, or approved as it is)."""
    origin = spec.origin
    if origin is None or not wanted or any(a.covers(spec) for a in approvals):
        return None
    named = ", ".join(sorted(wanted))
    where = (
        f"server '{spec.name}' comes from {origin.path}, a file of the project {origin.workspace}"
    )
    command = allowCommand(spec.name, origin.workspace)
    earlier = [a for a in approvals if (a.server, a.workspace) == (spec.name, origin.workspace)]
    if earlier:
        return (
            f"{named}: not resolved: {where}, and its entry changed since its secret"
            f" references were allowed; check it, then allow them again: {command}"
        )
    return (
        f"{named}: not resolved: {where}, and secret references resolve in your own"
        " config only: copy the entry to your user scope (or the gateway's servers.json),"
        f" or allow them for this entry: {command}"
    )


@dataclass(frozen=True)
class SecretsCandidate:
    """An entry of a project's own file that the gateway serves (from its
    backups of the adopted files), with what an approval of it records."""

    server: str
    workspace: str
    file: str
    entry: Mapping[str, Any]
    """As the gateway serves it."""
    references: tuple[str, ...]

    def approval(self) -> SecretsApproval:
        return SecretsApproval(
            self.server, self.workspace, self.file, entryDigest(self.entry), self.references
        )


def candidates(stateDir: Path, server: str, workspace: str) -> list[SecretsCandidate]:
    """The entries of C{server} in the project C{workspace} (a real path)
    that come from the project's own files and have secret references, as
    the gateway serves them (L{projectEntries}): a C{${NAME}} of the user's
    environment counts as the C{${env:NAME}} the gateway reads it as
    (L{mcpgateway.config.projectenv.asReferences}, with the names the
    workspace's C{.env} sets)."""
    supplied = readWorkspaceEnv(workspace).names
    found: dict[tuple[str, str], SecretsCandidate] = {}
    for file, served in projectEntries(stateDir, server, workspace):
        references = referencesIn(asReferences(served, supplied)[0])
        if references:
            found.setdefault(
                (file, entryDigest(served)),
                SecretsCandidate(server, workspace, file, served, references),
            )
    return list(found.values())


def projectEntries(
    stateDir: Path, server: str, workspace: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The entries of C{server} in the project C{workspace} (a real path)
    that come from the project's own files, as the gateway serves them,
    each with its file: the shadows of a C{.mcp.json}'s servers and the
    entries of version-controlled project files, in its current backups
    (entries are adopted while a gateway runs). Unusable backups are
    skipped; what approves an entry of these (a secret's, a sandbox's)
    names its digest."""
    from mcpgateway.clientconfigs.backups import everyBackup
    from mcpgateway.config.workspaces import canonicalPath

    for _, backup in everyBackup(Path(stateDir)):
        for (location, name), record in backup.records.items():
            block = backup.blocks.get(location)
            where = None if block is None else block.workspace
            if name != server or not where or not isinstance(record.served, dict):
                continue
            try:
                if canonicalPath(where) != workspace:
                    continue
            except ValueError:
                continue
            if record.original is None:
                yield str(Path(where) / ".mcp.json"), record.served
            elif backup.versionControlled:
                yield backup.configPath, record.served
            # else: the user's own (a local scope of ~/.claude.json)


def referencesIn(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The secret references an entry writes in its C{args}, C{env} and (a
    remote entry) C{headers}, as the config loader notes them (sorted; none
    when one is written wrong: such an entry is not served)."""
    places: list[tuple[str, str]] = []
    args = entry.get("args", [])
    if isinstance(args, list):
        places += [(f"args[{i}]", a) for i, a in enumerate(args) if isinstance(a, str)]
    for key in ("env", "headers") if isRemoteEntry(entry) else ("env",):
        block = entry.get(key, {})
        if isinstance(block, dict):
            places += [(f"{key}.{k}", v) for k, v in block.items() if isinstance(v, str)]
    try:
        return tuple(sorted(referencesOf(places)))
    except BadReference:
        return ()
