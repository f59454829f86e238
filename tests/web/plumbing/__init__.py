"""Tests of mcpgateway.web.plumbing: the stock channel and request, streams,
replies and authentication under every endpoint. Its stock tests hold
Twisted's own channel to the connection rules of mcpgateway.httpbase, through
a site on purpose, as the tests of mcpgateway.httpbase hold both fronts."""
