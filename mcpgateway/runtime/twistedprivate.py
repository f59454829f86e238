# -*- test-case-name: tests.runtime.test_twistedprivate -*-
"""Every private Twisted name the gateway uses, in one place.

Twisted keeps these names out of its compatibility policy, so a release may
rename or remove any of them; C{pyproject.toml} pins C{twisted} below its
next major, and C{tests/runtime/test_twistedprivate.py} fails the day an
installed Twisted lacks one. Each is used for a reason the public API does
not cover:

  - C{GenericHTTPChannelProtocol}: what C{HTTPFactory.buildProtocol} wraps a
    channel in when HTTP/2 is available, so a site of the gateway's own
    channel keeps the C{h2} upgrade.
  - C{IEncodingResource}: the interface of C{EncodingResourceWrapper}
    (gzip), asked for by the request's own resource lookup.
  - C{parseEndpoint}: splits a server endpoint string into its arguments
    without listening, so a bad C{ssl:} endpoint's files are checked before
    the reactor runs.
  - C{ISupportsExitSignalCapturing}: whether the reactor remembers the
    signal that stopped it (the exit status of a C{twist} process).
  - C{WrapperException}, C{RequestNotSent}, C{HTTP11ClientFactory}: what the
    HTTP client fails with when a request never reached the peer (a replica
    forwards it to the next one), and the pool's per-connection factory
    (made quiet).
  - L{TWIST_MODULE}: the C{twist} runner's module, imported ahead of time.

The private attributes the gateway reads or sets on Twisted's objects are
listed in L{CHANNEL_ATTRIBUTES}, L{REACTOR_ATTRIBUTES}, L{POOL_ATTRIBUTES}
and L{PORT_ATTRIBUTES}: the test checks each exists.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import (
    _ISupportsExitSignalCapturing as ISupportsExitSignalCapturing,
)

if TYPE_CHECKING:
    from twisted.internet.endpoints import _parse as parseEndpoint  # noqa: N812 (a function)
    from twisted.web._newclient import RequestNotSent
    from twisted.web._newclient import _WrapperException as WrapperException
    from twisted.web.client import _HTTP11ClientFactory as HTTP11ClientFactory
    from twisted.web.http import _GenericHTTPChannelProtocol as GenericHTTPChannelProtocol
    from twisted.web.resource import _IEncodingResource as IEncodingResource

_LAZY = {
    "parseEndpoint": ("twisted.internet.endpoints", "_parse"),
    "GenericHTTPChannelProtocol": ("twisted.web.http", "_GenericHTTPChannelProtocol"),
    "IEncodingResource": ("twisted.web.resource", "_IEncodingResource"),
    "RequestNotSent": ("twisted.web._newclient", "RequestNotSent"),
    "WrapperException": ("twisted.web._newclient", "_WrapperException"),
    "HTTP11ClientFactory": ("twisted.web.client", "_HTTP11ClientFactory"),
}
"""The names whose Twisted module this one does not import itself: each is
imported at its first use, so that importing this module early (the stop
signals' service is made before the gateway decides whether to leave
pyOpenSSL out, L{mcpgateway.startup.endpoints.leaveOutTLS}) loads nothing
more, and only a cluster's replica loads Twisted's HTTP client."""


def __getattr__(name: str) -> Any:
    """L{_LAZY}'s names, imported when first asked for."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


__all__ = [
    "CHANNEL_ATTRIBUTES",
    "POOL_ATTRIBUTES",
    "PORT_ATTRIBUTES",
    "REACTOR_ATTRIBUTES",
    "TWIST_MODULE",
    "GenericHTTPChannelProtocol",
    "HTTP11ClientFactory",
    "IEncodingResource",
    "ISupportsExitSignalCapturing",
    "RequestNotSent",
    "WrapperException",
    "parseEndpoint",
]

TWIST_MODULE = "twisted.application.twist._twist"
"""The module C{twist} runs (L{mcpgateway.launch.warm} imports it)."""

CHANNEL_ATTRIBUTES = ("_handlingRequest", "_networkProducer", "_waitingForTransport")
"""What the gateway's C{HTTPChannel} subclass reads and sets on its base:
whether a request is being handled (pipelined requests wait for it), the
producer it pauses while a response is written, and whether it waits for
the transport to drain."""

REACTOR_ATTRIBUTES = ("_poller", "_selectables", "_doReadOrWrite")
"""What the gateway's epoll reactor reads on C{EPollReactor}: the poll
object, the file descriptors' selectables, and the per-event dispatch."""

POOL_ATTRIBUTES = ("_factory",)
"""What is set on C{HTTPConnectionPool}: the factory of its connections."""

PORT_ATTRIBUTES = ("_shouldShutdown",)
"""What is cleared on a listening C{tcp.Port} handed to a restart's
successor: its stop must close this process's descriptor, not
C{shutdown(2)} the socket every process holding it shares."""
