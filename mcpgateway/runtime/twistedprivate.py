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

The private modules and names it imports are listed in L{IMPORTS}, and the
private attributes it reads, sets or overrides on Twisted's objects, each
with its reason, in L{ATTRIBUTES}: the test checks each exists, and
C{tests/runtime/test_twistedprivate_uses.py} that the gateway uses no other.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import (
    _ISupportsExitSignalCapturing as ISupportsExitSignalCapturing,
)

if TYPE_CHECKING:
    from twisted.internet.address import _ProcessAddress as ProcessAddress
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
    "ProcessAddress": ("twisted.internet.address", "_ProcessAddress"),
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
    "ATTRIBUTES",
    "IMPORTS",
    "TWIST_MODULE",
    "GenericHTTPChannelProtocol",
    "HTTP11ClientFactory",
    "IEncodingResource",
    "ISupportsExitSignalCapturing",
    "ProcessAddress",
    "RequestNotSent",
    "WrapperException",
    "parseEndpoint",
]

TWIST_MODULE = "twisted.application.twist._twist"
"""The module C{twist} runs (L{mcpgateway.runtime.warmup.warm} imports it)."""

IMPORTS = frozenset(
    {
        "twisted.internet.interfaces._ISupportsExitSignalCapturing",
        TWIST_MODULE,
        "twisted.web._newclient",
        *(f"{module}.{name}" for module, name in _LAZY.values()),
    }
)
"""The private modules and module-level names of Twisted the gateway
imports (here only) or names (C{TWIST_MODULE}, in C{mcpgateway.launch})."""

_CHANNEL = "twisted.web.http.HTTPChannel"
_REQUEST = "twisted.web.http.Request"
_SITE_REQUEST = "twisted.web.server.Request"

ATTRIBUTES: dict[str, dict[str, str]] = {
    _CHANNEL: {
        "_handlingRequest": "whether a request is being handled: the gateway's channel"
        " (tuned/channel.py) parses pipelined requests only when it is false, and"
        " sets it as Twisted's own allHeadersReceived does",
        "_networkProducer": "the transport the channel pauses while too much is unread",
        "_waitingForTransport": "whether the channel waits for the transport to drain"
        " (a finished request resumes reading only when it does not)",
        "_savedTimeOut": "the idle timeout put aside while a request is handled, as"
        " Twisted's channel does",
        "_optimisticEagerReadSize": "how much Twisted's channel reads ahead before pausing;"
        " the gateway's channel pauses at the same mark",
        "_send100Continue": "answers Expect: 100-continue as Twisted's channel does",
        "_abortingCall": "the timer that aborts a client that does not close after"
        " loseConnection (httpbase/bounds.py sets it as Twisted's timeoutConnection does)",
    },
    _REQUEST: {
        "_disconnected": "whether the client went away: a stream (SSE, the status page,"
        " an MCP 2026-07-28 stream, an upstream login) stops writing to a gone client,"
        " and the gateway's request finishes as Twisted's does",
        "_parsePOSTFormSubmission": "set by the gateway's request as Twisted's"
        " constructor does (it leaves that constructor out); read to parse a form body",
    },
    "twisted.web.server.Site": {
        "_parsePOSTFormSubmission": "whether the site parses form bodies: read by the"
        " gateway's request as Twisted's server.Request reads it",
    },
    _SITE_REQUEST: {
        "_handleStar": "answers OPTIONS * as twisted.web's render does",
        "_encoder": "the gzip encoder C{EncodingResourceWrapper} sets on the request;"
        " the gateway's write and finish go through it as Twisted's do",
        "_inFakeHead": "a HEAD answered by rendering a GET: nothing is written",
    },
    "twisted.python.components.Componentized": {
        "_adapterCache": "made by Componentized's constructor, which the gateway's request"
        " does not call (it sets the few attributes it needs itself)",
    },
    "twisted.web.http_headers.Headers": {
        "_rawHeaders": "the dict the gateway's Headers (httpbase/headers.py) keeps"
        " canonical names and values in, read by Twisted's own methods",
    },
    "twisted.internet.abstract.FileDescriptor": {
        "_writeDisconnecting": "a half-close is pending: the turn's flush"
        " (tuned/turnflush.py) leaves it to the reactor",
        "_tempDataLen": "bytes written but not yet in dataBuffer: whether the turn's"
        " flush left bytes to wait for writability",
    },
    "twisted.internet.tcp.Connection": {
        "_aborting": "abortConnection was called: the turn's flush sends nothing more",
    },
    "twisted.internet.epollreactor.EPollReactor": {
        "_poller": "the epoll object the gateway's reactor (tuned/reactor.py) polls",
        "_selectables": "the descriptors by file number, for each ready event",
    },
    "twisted.internet.posixbase._PollLikeMixin": {
        "_doReadOrWrite": "Twisted's per-event dispatch, called for an event the"
        " gateway's own dispatch does not handle directly",
    },
    "twisted.internet.base.ReactorBase": {
        "_exitSignal": "the signal that stopped the reactor, set by the gateway's stop"
        " signals (ops/signals.py) as Twisted's own handlers do",
    },
    "twisted.internet.tcp.Port": {
        "_shouldShutdown": "cleared on a listening port handed to a restart's successor:"
        " its stop must close this process's descriptor, not shutdown(2) the socket"
        " every process holding it shares",
    },
    "twisted.internet.endpoints.SSL4ServerEndpoint": {
        "_sslContextFactory": "the TLS context of an ssl: endpoint, re-used to listen"
        " again on a descriptor handed over by a restart",
    },
    "twisted.web.client.HTTPConnectionPool": {
        "_factory": "the factory of the pool's connections, replaced by a quiet one"
        " (no log line per connection)",
    },
    "twisted.web.client.Agent": {
        "_init": "the bridge's Agent (bridge/main.py) adds its parsed-URL cache",
        "_getEndpoint": "the endpoint of a URL, asked once per URL, not per request",
    },
    "twisted.web.client._AgentBase": {
        "_requestWithEndpoint": "sends a request on a known endpoint (what"
        " Agent.request does after parsing the URL)",
    },
    "twisted.web.http.HTTPFactory": {
        "_updateLogDateTime": "refreshes the access log's date every second; the"
        " gateway's site (web/app.py), which keeps no access log, makes it do nothing"
        " so that an idle gateway does not wake every second",
    },
    "twisted.application.app.ServerOptions": {
        "_getPlugins": "twistd's plugin discovery, replaced by the gateway's one plugin"
        " (mcpgateway.launch)",
    },
}
"""The private attributes the gateway reads, sets or overrides on Twisted's
objects, under the Twisted class that defines each, with why. The test
checks each class still defines each name; C{test_twistedprivate_uses.py}
checks every such use in C{mcpgateway/} is listed here."""
