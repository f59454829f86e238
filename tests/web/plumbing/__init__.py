"""Tests of mcpgateway.web.plumbing: the HTTP channel, request reading, bodies,
replies and streams under every endpoint."""
