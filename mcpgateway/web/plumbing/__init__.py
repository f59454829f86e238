# -*- test-case-name: tests.web -*-
"""The HTTP plumbing every endpoint stands on: the channel and request of
C{--twisted=stock} (the tuned ones are L{mcpgateway.tuned}'s; both are made
of L{mcpgateway.httpbase}), Server-Sent Events and their replay, JSON
answers, authentication."""
