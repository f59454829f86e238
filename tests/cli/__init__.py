"""Tests of mcpgateway.cli."""
