# -*- test-case-name: tests.selfservice -*-
"""The gateway's own MCP server, C{gateway}: servers found, added and
managed from inside a session, each change made only on a person's yes.

A gateway started with C{--self-service} serves it as a server named
C{gateway} (C{/gateway/mcp}, and on C{/mcp} as C{gateway__find_server}
...), run as C{python -m mcpgateway.selfservice}: a stdio MCP server of
the package, one shared child. Its tools search the MCP registry
(L{mcpgateway.registry}) and change the gateway's servers through the
running gateway's management API, whose URL and a token good for the
servers endpoints only it gets in its environment (L{URL_ENV},
L{TOKEN_ENV}). Every change first asks the person who made the call
(C{elicitation/create}, with the gateway's C{mcpgateway/relatedRequestId}
hint, so it reaches exactly that session), showing the command line (or
the URL), every environment value that names a place (where the server may
write, then what it may read) and the names only of the other variables;
without a yes nothing is changed.

The rooms:

 - L{stdio}: the JSON-RPC side (newline-delimited messages on stdin and
   stdout, a thread per C{tools/call}, the questions to the person);
 - L{tools}: the tools and what each does;
 - L{changes}: what an added server runs, how it is shown to the person,
   and the C{mcpgateway} command that makes the same change;
 - L{gatewayapi}: the management API's client.

Standard library, L{mcpgateway.protocol} and L{mcpgateway.registry} (and
the variable names L{mcpgateway.config.deniedenv} refuses, the secret-looking
ones of L{mcpgateway.core.envsecrets}, the data variables of
L{mcpgateway.sandbox.writes}): no Twisted.
"""

SERVER_NAME = "gateway"
"""The name the gateway serves this server under."""
URL_ENV = "GATEWAY_SELF_SERVICE_URL"
"""The running gateway's URL (C{http://127.0.0.1:PORT}), given by the gateway."""
TOKEN_ENV = "GATEWAY_SELF_SERVICE_TOKEN"
"""The bearer token the management API takes for its servers endpoints only."""
REGISTRY_ENV = "GATEWAY_SELF_SERVICE_REGISTRY"
"""The MCP registry's URL (the gateway's C{MCPGATEWAY_REGISTRY}); unset: the official one."""
