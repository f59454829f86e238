# -*- test-case-name: tests.sandbox.test_failures -*-
"""A child's failure that its sandbox caused, told in one line a person can
act on: what was denied, and the profile key that allows it.

L{explain} reads one stderr line of a confined child: the launcher's own
(C{mcpgateway sandbox: ...}), bubblewrap's (C{bwrap: ...}), a denied path
as Node.js (C{EACCES: permission denied, open '/x'}), Python
(C{PermissionError: [Errno 13] Permission denied: '/x'}) and C programs
(C{/x: Read-only file system}) write it, a name that does not resolve or
a network that is unreachable in a sandbox without network, a fork
refused at the process limit. The gateway logs the line once per child
and adds it to the child's exit reason (the server's status and the
error its callers get).
"""

from __future__ import annotations

import json
import re

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.launch import PREFIX

_NODE = re.compile(r"\b(EACCES|EPERM|EROFS|ENOENT): [^,]*, (\w+) '([^']+)'")
_PYTHON = re.compile(r"\[Errno (13|1|30|2)\] [^:]*: '([^']+)'")
_C = re.compile(
    r"(?:cannot \w+ |can't \w+ )?'?(/[^\s:'\"]+)'?: (Permission denied|Read-only file system)"
)
_NETWORK = re.compile(
    r"getaddrinfo (?:EAI_AGAIN|ENOTFOUND) (\S+)|Temporary failure in name resolution"
    r"|Name or service not known|Network is unreachable|ENETUNREACH|No address associated"
)
_FORK = re.compile(
    r"(?:fork|spawn|clone|start new thread)[^\n]*(?:EAGAIN|Resource temporarily unavailable)"
    r"|(?:EAGAIN|Resource temporarily unavailable)[^\n]*(?:fork|spawn|clone|thread)"
)
_ERRNO = {"13": "EACCES", "1": "EPERM", "30": "EROFS", "2": "ENOENT"}
_WRITES = frozenset({"mkdir", "rmdir", "unlink", "rename", "write", "copyfile", "symlink", "utime"})


def explain(line: str, network: str, home: str, stateDir: str) -> str | None:
    """What in C{line} the sandbox refused, and how to allow it; C{None}
    when the line says nothing of the sort.

    @param network: the child's network (C{"none"}: a name that does not
        resolve is the sandbox's doing; C{"proxy"}: its allow list's proxy,
        which a client that does not resolve a name ignored).
    @param home: its home directory (hidden, but for what it may use).
    @param stateDir: the gateway's state directory (never shown).
    """
    if line.startswith(PREFIX):
        return (
            f"the sandbox could not start it: {line[len(PREFIX) :].strip()}"
            ' ("sandbox": false in its entry runs it unconfined)'
        )
    if line.startswith("bwrap: "):
        return (
            f"bubblewrap could not start it: {line[len('bwrap: ') :].strip()}"
            ' (`mcpgateway sandbox check` says why; --sandbox off, or "sandbox": false in its'
            " entry, runs it unconfined)"
        )
    denied = _deniedPath(line)
    if denied is not None:
        code, operation, path = denied
        return _pathNote(code, operation, path, home, stateDir)
    if network == "none" and _NETWORK.search(line):
        match = _NETWORK.search(line)
        host = match.group(1) if match is not None and match.group(1) else None
        allowed = json.dumps([host] if host else ["example.com"])
        return (
            "the sandbox has no network"
            + (f" (it tried {host})" if host else "")
            + f': allow it with "sandbox": {{"network": {{"allowedDomains": {allowed}}}}}'
        )
    if network == "proxy" and _NETWORK.search(line):
        match = _NETWORK.search(line)
        host = match.group(1) if match is not None and match.group(1) else None
        return (
            "the sandbox reaches the network only through the gateway's proxy"
            + (f" (it tried {host} without it)" if host else "")
            + ": its client ignores HTTP(S)_PROXY (docs/guide/sandbox.md, the network)"
        )
    if _FORK.search(line):
        return (
            "it reached the sandbox's process limit: raise it with"
            f' "sandbox": {{"limits": {{"processes": {defaults.PROCESSES * 2}}}}}'
        )
    return None


def _deniedPath(line: str) -> tuple[str, str, str] | None:
    """The error code, operation and path of a refused file access in C{line}."""
    match = _NODE.search(line)
    if match is not None:
        return match.group(1), match.group(2), match.group(3)
    match = _PYTHON.search(line)
    if match is not None:
        return _ERRNO[match.group(1)], "", match.group(2)
    match = _C.search(line)
    if match is not None:
        return ("EROFS" if "Read-only" in match.group(2) else "EACCES"), "", match.group(1)
    return None


def _pathNote(code: str, operation: str, path: str, home: str, stateDir: str) -> str | None:
    shown = _shown(path, home)
    if stateDir and (path == stateDir or path.startswith(stateDir.rstrip("/") + "/")):
        return f"the sandbox never shows a server the gateway's state directory ({shown})"
    for entry in defaults.DENY_HOME:
        full = home.rstrip("/") + entry[1:]
        if path == full or path.startswith(full + "/"):
            return (
                f"the sandbox hides {shown} (its deny list): allow this server that one"
                f' path with "sandbox": {{"filesystem": {{"allowRead": ["{entry}"]}}}}'
            )
    if code == "ENOENT":
        if not (path == home or path.startswith(home.rstrip("/") + "/")):
            return None  # a file that does not exist, sandbox or not
        return (
            f"{shown} is not visible in the sandbox (the home directory is hidden):"
            f' allow it with "sandbox": {{"filesystem": {{"allowRead": ["{shown}"]}}}}'
        )
    if code == "EROFS" or operation in _WRITES:
        return (
            f"the sandbox denied writing {shown}: allow it with"
            f' "sandbox": {{"filesystem": {{"allowWrite": ["{shown}"]}}}}'
        )
    return (
        f"the sandbox denied {shown}: allow it with"
        f' "sandbox": {{"filesystem": {{"allowRead": ["{shown}"]}}}} (allowWrite to write it)'
    )


def _shown(path: str, home: str) -> str:
    """C{path} as an entry would write it (C{~/x} under the home)."""
    if home not in ("", "/") and path.startswith(home.rstrip("/") + "/"):
        return "~" + path[len(home.rstrip("/")) :]
    return path
