# -*- test-case-name: tests.bridge -*-
"""C{mcpgateway bridge SERVER|URL}: MCP over stdio to one client, MCP
Streamable HTTP to the gateway.

For clients that can only start stdio servers (Claude Desktop, Junie) and
for clients that send SIGINT to their children at will: the bridge relays
every message both ways, ids untouched, ignores SIGINT, ends on stdin EOF or
SIGTERM, starts the gateway when none runs, and rides out gateway restarts
by reconnecting and resuming its session (re-initializing with the client's
own C{initialize} when the session is really gone).

The rooms: L{options} (the command line, stdlib only, shared by C{mcpgateway
bridge} and C{python -m mcpgateway.bridge}); L{framing} (stdin lines and
SSE events, pure functions); L{stdio} (the stdio side, a Twisted protocol);
L{client} (the HTTP side: session, GET stream, reconnect, re-initialize);
L{main} (the entry: finds the gateway, starts one, runs the reactor).

This package's C{__init__} imports nothing, so the CLI may import
L{options} without loading Twisted.
"""
