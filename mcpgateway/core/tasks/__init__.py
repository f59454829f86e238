"""Long-running calls as tasks (the MCP Tasks extension): the record and its
wire shapes (model), the durable store (store), and the service that makes
and answers them (manager)."""
