"""Tests of mcpgateway.clientconfigs.clients: each client's config file format."""
