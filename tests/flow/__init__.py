"""Tests of mcpgateway.flow: data-origin labels and the flow rule."""
