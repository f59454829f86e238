"""Tests of mcpgateway.sandbox."""
