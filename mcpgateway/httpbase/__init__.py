# -*- test-case-name: tests.httpbase -*-
"""What every HTTP connection and request of the gateway is made of and
held to, whichever front reads it: the tuned one (L{mcpgateway.tuned}'s
channel and request) or Twisted as it ships
(L{mcpgateway.web.plumbing.stock}).

  - L{mcpgateway.httpbase.bounds}: what one connection may hold, and for
    how long (L{ChannelBounds<mcpgateway.httpbase.bounds.ChannelBounds>},
    the part of both channels the site's
    L{ConnectionGuard<mcpgateway.httpbase.bounds.ConnectionGuard>} sweeps);
  - L{mcpgateway.httpbase.door} and L{mcpgateway.httpbase.clientcounts}:
    who may connect to a gateway that authenticates no one, counted per
    client process;
  - L{mcpgateway.httpbase.bodybound}: the request whose body is capped;
  - L{mcpgateway.httpbase.headers}: Twisted's C{Headers} with a short path
    for bytes, and the C{Host} check;
  - L{mcpgateway.httpbase.clienterrors}: the log of what was refused;
  - L{mcpgateway.httpbase.principal}: who an authenticated request comes
    from, or why it is refused, in the words every authentication method
    (C{auth}) answers in and the door, the cluster and the audit read.

It stands on C{protocol} and C{runtime} only, below both fronts and the
HTTP face (C{web}) that serves them, so neither front imports the face.
"""
