"""Tests of mcpgateway.config."""
