"""Tests of mcpgateway.core."""
