"""MCP tasks end to end: the 2026-07-28 extension and the 2025-11-25
experimental tasks, their expiry, isolation, status and survival across
restarts."""
