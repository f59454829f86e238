"""Tests of mcpgateway.web.endpoints: the MCP endpoints (C{/<server>/mcp}, C{/mcp}, C{/mcp/search})
and what each answers.

Many of these tests drive their collaborators through the endpoint on purpose,
over a real Site with fake children and a fake clock: the aggregate
(mcpgateway.core.aggregate), tasks (mcpgateway.core.tasks), governance and
the cluster are proved here as a client meets them, while their own
folders hold the tests of their parts alone."""
