# -*- test-case-name: tests.governance -*-
"""Who may do what on a team gateway: policy on every MCP request
(L{mcpgateway.governance.policy}), rate limits and quotas
(L{mcpgateway.governance.quotas}), and the decisions they make
(L{mcpgateway.core.decision}), which the audit trail records.
"""
