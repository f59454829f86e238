# -*- test-case-name: tests.web -*-
"""The HTTP side of the gateway: routes, guards, SSE streams, the site."""
