"""twistd/twist plugin: C{twistd -n mcpgateway} and C{twist mcpgateway}.

Kept tiny and inert on purpose: Twisted imports every plugin file on every
run, so nothing here may import the reactor or klein.
"""

from twisted.application.service import ServiceMaker

mcpgateway = ServiceMaker(
    "MCP Gateway",
    "mcpgateway.tap",
    "Share stdio MCP servers between every client on this machine over Streamable HTTP.",
    "mcpgateway",
)
