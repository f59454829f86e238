"""Tests of mcpgateway.remote.oauth: the gateway's own OAuth client for remote
servers (discovery, login, token exchange, hosts)."""
