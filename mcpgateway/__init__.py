# -*- test-case-name: tests -*-
"""mcpgateway: one process that shares stdio MCP servers between many MCP clients."""

__version__ = "0.1.0"
