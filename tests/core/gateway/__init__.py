"""Tests of mcpgateway.core.gateway: the gateway object, its server set,
catalogs and continuity."""
