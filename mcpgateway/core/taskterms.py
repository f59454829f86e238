# -*- test-case-name: tests.core.test_taskterms -*-
"""The words of MCP's tasks that the kernel and its features share.

One job: the names a message about a task carries and the statuses a task
never leaves, the same for the fanout (which session a child's task
message is for), the 2026-07-28 side (a child's own tasks), the tasks
feature (the gateway's tasks) and the aggregate endpoint (its members'
tasks). Pure data: anything in C{core} may import it.
"""

from __future__ import annotations

EXTENSION = "io.modelcontextprotocol/tasks"
"""The Tasks extension's id (C{capabilities.extensions} on both sides,
MCP 2026-07-28)."""
RELATED_TASK = "io.modelcontextprotocol/related-task"
"""The C{_meta} key (MCP 2025-11-25) of a message or result related to a
task: its value is C{{"taskId": ...}}."""
TERMINAL = frozenset({"completed", "failed", "cancelled"})
"""The statuses a task never leaves."""


def isTerminal(status: object) -> bool:
    """Whether a child's task C{status} is one a task never leaves (a status
    that is not a string, an object or a list, is an unknown one: not
    terminal, and never an error)."""
    return isinstance(status, str) and status in TERMINAL
