# -*- test-case-name: tests.clientconfigs -*-
"""One adapter per MCP client's config file format; atomic, format-keeping edits."""
