# -*- test-case-name: tests.tuned -*-
"""The tuned Twisted: the gateway's own replacements of Twisted's machinery.

A call through the gateway spends most of its CPU in Twisted, not in the
gateway's own code (docs/design/costs.md): the reactor's dispatch, which
makes a log context for every ready event; the HTTP channel's line parser;
the fixed work of twisted.web's C{Request} and C{Headers}; and writes that
wait for the next C{epoll_wait} to find the socket writable. Each module
here replaces one of them with less work per call, keeping Twisted's own
interfaces and semantics:

  - L{mcpgateway.tuned.reactor}: the epoll reactor, dispatching without a
    log context per event, with an end-of-turn hook and a short poll spin;
  - L{mcpgateway.tuned.turnflush}: the transports' writes (the clients'
    sockets and the children's stdin), sent at the end of the reactor's
    turn;
  - L{mcpgateway.tuned.channel} and L{mcpgateway.tuned.httpreader}: the
    HTTP channel, reading requests with llhttp;
  - L{mcpgateway.tuned.request} and L{mcpgateway.tuned.headers}:
    twisted.web's C{Request} and C{Headers}, with their fixed work left
    out.

Each leans on how Twisted works inside (the private names of
L{mcpgateway.runtime.twistedprivate}, checked against the installed Twisted
by its tests), so each makes a Twisted upgrade a risk; keeping them in one
package keeps that risk in one place. L{mcpgateway.tuned.switch} is the
switch: C{--twisted=tuned} (the default, decided by measurement:
docs/design/performance.md) runs all of them, C{--twisted=stock} (or
C{MCPGATEWAY_TWISTED=stock}) none, serving HTTP through twisted.web as
Twisted ships it (L{mcpgateway.web.plumbing.stock}) with the same rules.

Its modules stand at two heights: the reactor, the turn's flush, the
switch, the reader and the headers import only C{protocol} and C{runtime},
so C{core} may use them; the channel and the request stand on the HTTP
face's plumbing and are served by its site, so they count as part of
C{web} (C{tests/test_house.py}, C{TUNED_WEB}).
"""
