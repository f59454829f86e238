"""Adopting MCP clients' config files end to end: rewriting them on start, hot-
adding what a client writes later, restoring them on stop, and surviving
clients that write meanwhile."""
