"""Tests of mcpgateway.web."""
