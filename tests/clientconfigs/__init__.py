"""Tests of mcpgateway.clientconfigs."""
