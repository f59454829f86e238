"""The aggregate endpoint C{/mcp} (and C{/mcp/search}) with real SDK clients
and real servers: merged lists, namespaced calls, search mode, shielding,
tasks through it."""
