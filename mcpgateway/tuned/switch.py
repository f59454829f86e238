# -*- test-case-name: tests.tuned.test_switch -*-
"""C{--twisted}: whether the gateway runs on Twisted as Twisted ships it, or tuned.

The gateway replaces some of Twisted's own machinery for speed (the modules
of L{mcpgateway.tuned}: the reactor's dispatch, the turn's writes, the HTTP
channel, its parser, the request and its headers). Each of them leans on how
Twisted works inside, so each makes a Twisted upgrade a risk. One switch
turns them all off or on:

  - C{tuned}: all of them;
  - C{stock}: Twisted's default reactor, twisted.web's own C{HTTPChannel},
    C{Request} and C{Headers}, and transports that write as Twisted writes.
    The gateway's own rules stay the same on both (the body limit, the
    header and body deadlines, the connections per peer, the C{Host}
    checks, the hand-over of a restart: L{mcpgateway.web.plumbing.stock}).

C{--twisted} decides, else C{$MCPGATEWAY_TWISTED}, else L{DEFAULT}. It is
read before the reactor is installed (L{fromArgv}, for
L{mcpgateway.launch}, which installs it before twistd parses its options).
A reactor named with C{--reactor} is kept either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

STOCK = "stock"
TUNED = "tuned"
CHOICES = (STOCK, TUNED)
"""The words of C{--twisted}."""
DEFAULT = TUNED
"""What runs when neither C{--twisted} nor L{TWISTED_ENV} says: decided by
measurement (docs/design/performance.md, "Stock Twisted and the tuned path")."""
TWISTED_ENV = "MCPGATEWAY_TWISTED"
"""The environment variable C{--twisted} falls back to."""
TWISTED_HELP = (
    "Run on Twisted as it ships (stock: its own reactor, HTTP channel, request and"
    " headers) or on the gateway's faster replacements of them (tuned). Default: "
    + DEFAULT
    + ". Env: "
    + TWISTED_ENV
    + "."
)


def twistedChoice(value: str) -> str:
    """C{value}, one of L{CHOICES}; else C{ValueError}."""
    if value not in CHOICES:
        raise ValueError(f"use {' or '.join(CHOICES)}")
    return value


def twistedSetting(given: str | None, environ: Mapping[str, str]) -> str:
    """What runs: C{given} (C{--twisted}), else L{TWISTED_ENV}, else
    L{DEFAULT}; C{ValueError} for a word not in L{CHOICES}."""
    if given is None:
        given = environ.get(TWISTED_ENV) or DEFAULT
        if given not in CHOICES:
            raise ValueError(f"${TWISTED_ENV} {given[:40]!r}: use {' or '.join(CHOICES)}")
    return twistedChoice(given)


def checkTwisted(options: MutableMapping[str, Any]) -> None:
    """Set C{options["twisted"]} to what runs (L{twistedSetting}, from the
    parsed C{--twisted} and the process's environment); a bad word in
    L{TWISTED_ENV} is a usage error."""
    from twisted.python.usage import UsageError

    try:
        options["twisted"] = twistedSetting(options["twisted"], os.environ)
    except ValueError as e:
        raise UsageError(str(e)) from None


def fromArgv(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """What C{twistd}'s command line C{argv} (the gateway's options after the
    word C{mcpgateway}) and C{environ} choose, read before the options are
    parsed; a bad word counts as L{DEFAULT} here (the options refuse it)."""
    given: str | None = None
    rest = list(argv[argv.index("mcpgateway") + 1 :]) if "mcpgateway" in argv else []
    for at, arg in enumerate(rest):
        if arg == "--twisted" and at + 1 < len(rest):
            given = rest[at + 1]
        elif arg.startswith("--twisted="):
            given = arg.partition("=")[2]
    try:
        return twistedSetting(given, environ)
    except ValueError:
        return DEFAULT


def twistedParameters() -> list[list[Any]]:
    """C{--twisted}, as an C{optParameters} entry (its default C{None}:
    L{twistedSetting} reads the environment once the options are parsed)."""
    return [["twisted", None, None, TWISTED_HELP, twistedChoice]]
