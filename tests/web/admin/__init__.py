"""Tests of mcpgateway.web.admin: the management API (C{/api/v1}) and the
sessions' ends."""
