"""What a server's status says of its 2026-era serving when no 2026-era
request has reached it: every count zero. The pool's description and the
health line both carry these keys."""

from __future__ import annotations

NO_ERA2026_TRAFFIC = {
    "era2026Requests": 0,
    "era2026Clients": 0,
    "suspendedCalls": 0,
    "inputRounds": 0,
    "inputExpired": 0,
    "badRequestStates": 0,
    "listenStreams": 0,
    "refusedServerRequests": 0,
}
"""The 2026-era counts of a server no 2026-era request has reached."""
