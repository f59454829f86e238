"""MCP clients' config files: adopting their stdio servers for the gateway
(backup, rewrite to the gateway's URLs, restore), with atomic, concurrency-safe
JSON writes. Pure synchronous file code: no reactor, no logging."""
