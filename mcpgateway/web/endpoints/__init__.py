# -*- test-case-name: tests.web -*-
"""The MCP endpoints: C{/<server>/mcp} (both revisions) and the aggregate
C{/mcp}, with the checks, sessions and forwarding behind them."""
