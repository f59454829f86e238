"""Remote MCP servers as backends: Streamable HTTP and the 2024-11-05 HTTP+SSE
transport, reached as an HTTP client and served like a child process."""
