# -*- test-case-name: tests.cli -*-
"""The C{mcpgateway} command: C{start}, C{stop}, C{restart}, C{status},
C{doctor}, C{restore}, C{clients}, C{servers
list|add|remove|enable|disable|restart|reset-circuit}, C{catalog}, C{logs},
C{service}, C{bridge}, C{token}, C{login}/C{logout}, C{tools diff|approve}
(pinned tools), C{secret set|list|rm|import}, C{registry search|show} and
C{add} (a server of the MCP registry).

A short-lived, synchronous program (argparse, urllib, subprocess): it never
runs the reactor. It finds the running gateway through its state directory
(C{state.json} with the pid and port, the C{gateway.lock} flock the gateway
holds while it runs) and talks to it over loopback HTTP (C{/health},
C{/sessions}, the management API C{/api/v1} with C{Authorization: Bearer
$MCPGATEWAY_API_TOKEN} when that is set) with short timeouts, except C{logs},
which follows a server's log stream until Ctrl-C. C{start} launches
C{twistd mcpgateway} (detached unless C{--foreground}) and returns once
C{/health} answers.

Every failure is one line on stderr (or C{{"ok": false, "error": ...}} with
C{--json}), never a traceback; C{MCPGATEWAY_DEBUG=1} shows tracebacks of
unexpected errors. A command line argparse rejects is one line and a pointer
to C{--help} (exit 2). A reader of its output that went away (C{| head -3})
ends the command quietly, with exit status 141 (L{output.endQuietly}).
Colours only when stdout is a terminal and C{NO_COLOR} is unset.

The gateway's files are read with the library's own readers, never with a
copy; the file names come from L{mcpgateway.runtime.paths}.

The rooms: one module per command (L{start}, L{stop}, L{status}, L{doctor}
with its L{checks}, L{restore}, L{servers}, L{logs}, L{tools}, L{secret},
L{registry}, L{add}, ...); leaves they share
(L{output}, L{probe}, L{http}, L{health}, L{clientconfig}, L{logfile}); the
seams every command reaches the world through (L{context}); and L{main}, the
parser and the entry point (C{mcpgateway.cli:main}, C{python -m
mcpgateway.cli}).
"""

from mcpgateway.cli.main import main

__all__ = ["main"]
