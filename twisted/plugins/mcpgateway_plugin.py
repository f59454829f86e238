"""twistd/twist plugins: C{twistd -n mcpgateway} and C{twist mcpgateway}, and
the gateway's reactor, C{--reactor=mcpgateway}.

Kept tiny and inert on purpose: Twisted imports every plugin file on every
run, so nothing here may import the reactor or klein. The maker itself is
L{mcpgateway.launch.GATEWAY}, which C{mcpgateway start} gives twistd directly.
"""

from twisted.application.reactors import Reactor

from mcpgateway import launch

mcpgateway = launch.GATEWAY

epoll = Reactor(
    "mcpgateway",
    "mcpgateway.tuned.reactor",
    "epoll, dispatching without a log context per event (Linux; the gateway's)",
)
