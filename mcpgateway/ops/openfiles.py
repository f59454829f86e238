# -*- test-case-name: tests.ops.test_openfiles -*-
"""The gateway's open-files limit, raised to its hard limit as it starts
listening: L{raiseOpenFiles}.

Every connection holds a descriptor while it is open, and so does every
session's GET stream, which an idle client keeps open for hours: a gateway
with 10,000 sessions and their streams holds 10,000 sockets, besides its
children's pipes. The soft limit a process inherits is often 1,024
(systemd's default for a service, most shells'), far below its hard limit
(524,288 under systemd); past the soft limit a listening socket accepts
nothing (C{EMFILE}) until a descriptor is closed. Any process may raise its
own soft limit up to its hard limit, so the gateway does, once, before it
listens (after twistd daemonized), and says so in one log line. Its
children inherit the raised limit; a confined child gets the limit of its
sandbox profile (L{mcpgateway.sandbox.launch.lowerResources}).
"""

from __future__ import annotations

import resource
from collections.abc import Callable

from twisted.logger import Logger

from mcpgateway.runtime import logs

UNLIMITED_FILES = 1 << 20
"""The soft limit asked for when the hard limit is unlimited (Linux's
default C{fs.nr_open}; an unlimited soft limit is refused on most systems)."""

log = Logger(observer=logs.observer)

Limits = tuple[int, int]


def raiseOpenFiles(
    getLimit: Callable[[int], Limits] = resource.getrlimit,
    setLimit: Callable[[int, Limits], None] = resource.setrlimit,
) -> Limits:
    """Raise this process's soft C{RLIMIT_NOFILE} to its hard limit (logged
    when it moves, and when it cannot); the limits then, soft and hard."""
    which = resource.RLIMIT_NOFILE
    soft, hard = getLimit(which)
    target = UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            setLimit(which, (target, hard))
        except (OSError, ValueError) as e:
            log.warn(
                "cannot raise the open-files limit from {soft} to {hard} ({why}): at most"
                " {soft} connections and GET streams at once",
                soft=soft,
                hard=target,
                why=str(e),
            )
            return soft, hard
        log.info(
            "open-files limit raised from {soft} to {hard}, its hard limit (each connection"
            " and GET stream holds one)",
            soft=soft,
            hard=target,
        )
        return target, hard
    log.debug("open-files limit: {soft} (its hard limit is {hard})", soft=soft, hard=hard)
    return soft, hard
