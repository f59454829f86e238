"""Tests of mcpgateway.trust: pinned tools."""
