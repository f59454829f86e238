"""Tests of mcpgateway.web.pages: the status page and console, the server card,
liveness and the sign-in pages."""
