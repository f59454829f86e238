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
  - L{mcpgateway.tuned.request}: twisted.web's C{Request}, with its fixed
    work left out (its headers are L{mcpgateway.httpbase.headers}', which
    the endpoints write to by their short path whichever front serves).

Each leans on how Twisted works inside (the private names of
L{mcpgateway.runtime.twistedprivate}, checked against the installed Twisted
by its tests), so each makes a Twisted upgrade a risk; keeping them in one
package keeps that risk in one place (with the headers' one private name,
C{_rawHeaders}). L{mcpgateway.tuned.switch} is the
switch: C{--twisted=tuned} (the default, decided by measurement:
docs/design/performance.md) runs all of them, C{--twisted=stock} (or
C{MCPGATEWAY_TWISTED=stock}) none, serving HTTP through twisted.web as
Twisted ships it (L{mcpgateway.web.plumbing.stock}) with the same rules.

It stands on C{protocol}, C{runtime} and what both fronts are made of
(L{mcpgateway.httpbase}), and implements what they declare (the turn
flusher is a L{mcpgateway.runtime.turnwrites.Flusher}); only start-up and
the site (L{mcpgateway.web.app}) import it, to plug it in
(C{tests/test_house.py}).
"""
