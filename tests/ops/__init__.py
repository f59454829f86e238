"""Tests of mcpgateway.ops."""
