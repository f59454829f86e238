"""What a client gets from a real gateway's MCP endpoints: conformance, both
protocol eras, resumable streams, MCP Apps, Skills, server identity, pinned
tools and hostile input."""
