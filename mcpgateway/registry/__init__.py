# -*- test-case-name: tests.registry -*-
"""Installing MCP servers by name from an MCP registry (the official one at
U{https://registry.modelcontextprotocol.io}, or any registry that speaks its
API).

The rooms:

 - L{schema}: a registry's answers (C{server.json} in its C{ServerResponse}
   envelope) read into frozen dataclasses, every field checked for its type
   and size; what cannot be read is a L{schema.RegistryDataError} or a
   problem noted on the server, never an exception of another kind;
 - L{client}: the registry's HTTP API (C{GET /v0.1/servers?search=...}, with
   its cursor paging, and C{GET /v0.1/servers/NAME/versions/latest}), over a
   synchronous fetch function with a size cap (the C{mcpgateway} command is
   not a reactor; a gateway runs it in a thread);
 - L{choose}: which of a server's packages or remotes to install (stdio
   packages first: C{npm}, C{pypi}, C{oci}; a remote when there is none or
   when asked), and why any other cannot be;
 - L{entries}: the values an install asks the person for
   (L{entries.promptsOf}), and the gateway config entry it writes
   (L{entries.buildEntry}): an argv list run without a shell (C{npx -y},
   C{uvx}, C{docker run -i --rm}) or a remote URL with its headers, secret
   values kept out of it as C{${keyring:NAME}} references;
 - L{dockerrun}: an image's C{docker run} command line read as Docker reads
   it, with only the options the gateway knows and accepts, and the paths of
   this machine it mounts (each needs the person's approval of that path);
 - L{display}: outside text as the person who confirms it reads it
   (whitespace made visible, control characters escaped, a long command
   line cut saying what it leaves out).

Registry data comes from outside: every identifier is checked against what
its package registry allows, no value from the registry may hold a C{$E{lb}}
reference (the gateway would expand it from its own environment) or a control
character, and the runtime options a registry entry may add are an allow list.
"""
