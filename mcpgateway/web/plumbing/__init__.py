# -*- test-case-name: tests.web -*-
"""The HTTP plumbing every endpoint stands on: a connection's bounds and the
body limit, the channel and request of C{--twisted=stock} (the tuned ones
are L{mcpgateway.tuned}'s), Server-Sent Events and their replay, JSON
answers, authentication."""
