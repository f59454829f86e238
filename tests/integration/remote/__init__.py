"""Remote MCP servers behind a real gateway: Streamable HTTP and HTTP+SSE
backends, REST APIs as tools, OAuth logins and token exchange."""
