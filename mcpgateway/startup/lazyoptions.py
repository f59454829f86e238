# -*- test-case-name: tests.startup.test_lazyoptions -*-
"""C{--no-lazy-start}: every shared server's child starts at its first
session's C{initialize}.

Without the flag a client's start-up on a shared server (its
C{initialize} and the lists it asks for) is answered from the server's
saved catalog when one is current, and the child starts at the first
request the catalog cannot answer (L{mcpgateway.core.gateway.catalogserve}; an
entry's C{"lazy": false} says the same for one server). The wiring hands
the flag to the gateway as L{GatewaySettings.lazyStart
<mcpgateway.core.gateway.settings.GatewaySettings.lazyStart>}.
"""

from __future__ import annotations

LAZY_START_FLAG = [
    "no-lazy-start",
    None,
    "Start each shared server's child at its first session's initialize, never answering"
    " a client's start-up (initialize, the lists) from the server's saved catalog.",
]
