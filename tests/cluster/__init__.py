"""Tests of mcpgateway.cluster."""
