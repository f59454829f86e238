"""The gateway's own keys in the C{_meta} of a request a handshake child
server sends (documented in C{docs/design/era.md}).

One job: name the hints a child gives about the question it asks, so that
the 2025-era path (which routes a child's request by its related id and
strips the hints from what a client sees) reads them without loading the
2026-07-28 form (L{mcpgateway.protocol.era2026form}), which uses the other
two to build a round of input requests.
"""

from __future__ import annotations

HINT_RELATED = "mcpgateway/relatedRequestId"
"""In a child request's C{_meta}: the child-side id of the client request it
serves (routes it exactly, even with several callers in flight)."""
HINT_KEY = "mcpgateway/inputKey"
"""In a child request's C{_meta}: the key it gets in C{inputRequests}."""
HINT_OPTIONAL = "mcpgateway/optional"
"""In a child request's C{_meta}: C{true} when the child can do without the
answer (a missing client capability refuses only that request)."""
HINTS = (HINT_RELATED, HINT_KEY, HINT_OPTIONAL)
"""Every hint: stripped from anything a client sees."""
