"""Tests of mcpgateway.web.endpoints: the MCP endpoints (C{/<server>/mcp},
C{/mcp}, C{/mcp/search}) and what each answers.

Many of these tests drive their collaborators through the endpoint on
purpose, over a real Site with fake children and a fake clock, to prove
them as a client meets them: the aggregate (mcpgateway.core.aggregate),
tasks (mcpgateway.core.tasks), governance (mcpgateway.governance), the
cluster (mcpgateway.cluster), the principal (mcpgateway.auth), and the
replies and sessions' ends the endpoints give (mcpgateway.web.plumbing,
mcpgateway.web.admin). Those packages' own folders hold the tests of
their parts alone."""
