# -*- test-case-name: tests.config.test_sandboxapprovals,tests.secrets.test_approvals -*-
"""A file of the user's approvals in the state directory: the approvals of
a project entry's secret references (L{mcpgateway.secrets.approvals}) and
of the sandbox it asks for (L{mcpgateway.config.sandboxapprovals}) are kept
the same way, each in a file of its own.

An approval names a server, a project directory and the project's file
(and, in the record each kind defines, what it approves); the file holds
C{{"version": 1, "approvals": [...]}}, written atomically, mode 0600. A new
approval of the same server, project and file replaces the earlier one.
Blocking file work; no Twisted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from mcpgateway.runtime.atomicfile import writeFileAtomic

VERSION = 1


class ApprovalsError(Exception):
    """The approvals file cannot be used; the message says which and why."""


class Approved(Protocol):
    """What an approvals file needs of one of its records."""

    @property
    def server(self) -> str: ...

    @property
    def workspace(self) -> str: ...

    @property
    def file(self) -> str: ...

    def toJson(self) -> dict[str, Any]: ...


A = TypeVar("A", bound=Approved)


class ApprovalFile(Generic[A]):
    """The approvals file C{name} of a state directory, whose records
    C{parse} reads (C{None}: a record it does not take)."""

    def __init__(self, name: str, parse: Callable[[Any], A | None]) -> None:
        self.name = name
        self._parse = parse

    def path(self, stateDir: Path) -> Path:
        return Path(stateDir) / self.name

    def read(self, stateDir: Path) -> list[A]:
        """The approvals kept in C{stateDir} (none when there is no file).

        @raise ApprovalsError: the file cannot be read, or is not the gateway's.
        """
        path = self.path(stateDir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise ApprovalsError(f"{path} cannot be read ({_oneLine(e)})") from None
        approvals = data.get("approvals") if isinstance(data, dict) else None
        if not isinstance(approvals, list):
            raise ApprovalsError(f'{path} is not an approvals file (no "approvals" list)')
        return [found for item in approvals if (found := self._parse(item)) is not None]

    def write(self, stateDir: Path, approvals: Iterable[A]) -> None:
        """Keep C{approvals} in C{stateDir} (atomically, mode 0600)."""
        document = {"version": VERSION, "approvals": [a.toJson() for a in approvals]}
        Path(stateDir).mkdir(mode=0o700, parents=True, exist_ok=True)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        writeFileAtomic(self.path(stateDir), text.encode("utf-8"), 0o600)

    def keep(self, stateDir: Path, approval: A) -> None:
        """Keep C{approval}, in place of any earlier one of the same server,
        project and file."""
        same = (approval.server, approval.workspace, approval.file)
        kept = [a for a in self.read(stateDir) if (a.server, a.workspace, a.file) != same]
        self.write(stateDir, [*kept, approval])

    def forget(self, stateDir: Path, server: str, workspace: str) -> int:
        """Forget the approvals of C{server} in the project C{workspace}; how many."""
        approvals = self.read(stateDir)
        kept = [a for a in approvals if (a.server, a.workspace) != (server, workspace)]
        if len(kept) != len(approvals):
            self.write(stateDir, kept)
        return len(approvals) - len(kept)


def _oneLine(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
