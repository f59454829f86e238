"""Tests of mcpgateway.tuned."""
