# -*- test-case-name: tests.config.test_sandboxapprovals,tests.config.test_scopes_sandbox -*-
"""The user's approvals of the sandbox a project's own entry asks for.

An entry of a project's own file (a repository's C{.mcp.json},
C{.cursor/mcp.json}, C{.vscode/mcp.json}...: L{mcpgateway.config.origins})
may only narrow its sandbox: whatever of its C{"sandbox"} is wider than the
default profile (L{mcpgateway.sandbox.narrowing.widenings}: C{false},
C{allowWrite}, C{"network": "host"}...) is ignored until the user approves
that very entry. An L{SandboxApproval} names the server, the project directory,
the file and the entry's digest (L{mcpgateway.config.origins.entryDigest}),
as the approvals of its secret references do
(L{mcpgateway.secrets.approvals}): an entry that changes in anything is not
the approved one any more, and is narrowed again.

The approvals are kept in C{<state-dir>/}L{APPROVALS_FILE} (mode 0600),
written by C{mcpgateway sandbox approve} (L{approve}, from the entries the
running gateway serves: L{mcpgateway.cli.sandboxapprove}; C{--forget}:
L{forget}). The gateway reads them each time it prepares its config
(L{mcpgateway.config.preparer}) and watches the file: an approval takes
effect within seconds, restarting the server's children with the profile
its entry asks for. Blocking file work; no Twisted.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgateway.config.approvalfile import ApprovalFile
from mcpgateway.config.approvalfile import ApprovalsError as ApprovalsError  # its callers' error

APPROVALS_FILE = "sandbox-approvals.json"
"""The approvals, in the state directory (names and digests only)."""


@dataclass(frozen=True)
class SandboxApproval:
    """The user's approval of one project entry's sandbox."""

    server: str
    workspace: str
    """The project directory (its real path)."""
    file: str
    """The project's file the entry was in when approved."""
    digest: str
    """The entry's digest (L{mcpgateway.config.origins.entryDigest})."""
    widenings: tuple[str, ...]
    """What of its sandbox is wider than the default, as approved (for a
    person reading the file; the digest is what counts)."""

    def toJson(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "workspace": self.workspace,
            "file": self.file,
            "digest": self.digest,
            "widenings": list(self.widenings),
        }

    @classmethod
    def fromJson(cls, data: object) -> SandboxApproval | None:
        """The approval C{data} holds, C{None} when it is not one."""
        if not isinstance(data, dict):
            return None
        words = [data.get(key) for key in ("server", "workspace", "file", "digest")]
        wider = data.get("widenings", [])
        if not all(isinstance(word, str) and word for word in words) or not (
            isinstance(wider, list) and all(isinstance(w, str) for w in wider)
        ):
            return None
        server, workspace, file, digest = (str(word) for word in words)
        return cls(server, workspace, file, digest, tuple(wider))

    def covers(self, server: str, workspace: str, digest: str) -> bool:
        """Whether this approves the entry of C{server} in the project
        C{workspace} whose digest is C{digest}."""
        return (self.server, self.workspace, self.digest) == (server, workspace, digest)


FILE: ApprovalFile[SandboxApproval] = ApprovalFile(
    APPROVALS_FILE, lambda item: SandboxApproval.fromJson(item)
)
"""The file itself (L{mcpgateway.config.approvalfile})."""


def approvalsPath(stateDir: Path) -> Path:
    return FILE.path(stateDir)


def readApprovals(stateDir: Path) -> list[SandboxApproval]:
    """The approvals kept in C{stateDir} (none when there is no file).

    @raise ApprovalsError: the file cannot be read, or is not the gateway's.
    """
    return FILE.read(stateDir)


def writeApprovals(stateDir: Path, approvals: Iterable[SandboxApproval]) -> None:
    """Keep C{approvals} in C{stateDir} (atomically, mode 0600)."""
    FILE.write(stateDir, approvals)


def approve(stateDir: Path, approval: SandboxApproval) -> None:
    """Keep C{approval}, in place of any earlier one of the same server,
    project and file."""
    FILE.keep(stateDir, approval)


def forget(stateDir: Path, server: str, workspace: str) -> int:
    """Forget the approvals of C{server} in the project C{workspace}; how many."""
    return FILE.forget(stateDir, server, workspace)


def approveCommand(server: str, workspace: str) -> str:
    """The command that approves the sandbox of C{server}'s entry of the
    project C{workspace}."""
    return f"mcpgateway sandbox approve {shlex.quote(server)} --workspace {shlex.quote(workspace)}"
