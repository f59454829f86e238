"""Which unit test files read C{$MCPGATEWAY_TWISTED} in the test's own
process: what keeps L{READERS} (the unit files CI runs again on stock
Twisted, C{tests/support/switched.py}) whole.

The variable changes a unit test's answer only where the test's process
reads it: L{mcpgateway.tuned.switch.twistedSetting} called without a
word (C{given} C{None}), as a site made without a word for C{twisted},
the gateway's options parsed, or twistd's command line read do. L{watch}
wraps that function, before any test imports a module that binds it, and
notes the file of each test that reads it so (C{PYTEST_CURRENT_TEST},
which pytest sets for a test's setup, call and teardown alike).

The root conftest's fixture then fails a test whose file read the
variable but is not in L{READERS}: the file must be listed, or the stock
pass would not run it. A file listed that no longer reads it costs the
stock pass time only. C{python -m tests.support.switchwatch FILE...}
prints L{READERS} with those files added, sorted, to be written to
L{READERS_FILE}.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from mcpgateway.tuned import switch
from mcpgateway.tuned.switch import TWISTED_ENV

__all__ = [
    "EXEMPT",
    "READERS",
    "READERS_FILE",
    "READ_BY",
    "TWISTED_ENV",
    "currentFile",
    "unlisted",
    "watch",
    "watched",
]

READERS_FILE = Path(__file__).with_name("switchreaders.txt")
"""The unit test files that read the variable, one a line, relative to
the checkout."""


def _listed() -> frozenset[str]:
    lines = READERS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip())


READERS: frozenset[str] = _listed()
"""The files of L{READERS_FILE}."""

EXEMPT = ("tests/integration/", "tests/tuned/")
"""Folders whose files the stock pass chooses by another rule
(C{tests/support/switched.py}): every gateway process of the integration
tests reads the variable, and C{tests/tuned} pins the tuned runtime."""

READ_BY: set[str] = set()
"""The test files that read the variable in this process, since L{watch}."""

_original: Callable[[str | None, Mapping[str, str]], str] | None = None


def currentFile() -> str | None:
    """The file of the test pytest runs now (C{None}: none)."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    return current.split("::", 1)[0] if current else None


def _watched(given: str | None, environ: Mapping[str, str]) -> str:
    if given is None:
        where = currentFile()
        if where is not None:
            READ_BY.add(where)
    assert _original is not None
    return _original(given, environ)


def watch() -> None:
    """Wrap L{switch.twistedSetting} (once), and the name in each module
    already imported that bound it."""
    global _original
    if _original is not None:
        return
    _original = switch.twistedSetting
    switch.twistedSetting = _watched
    for module in list(sys.modules.values()):
        if getattr(module, "twistedSetting", None) is _original:
            module.twistedSetting = _watched  # type: ignore[attr-defined]


def watched() -> bool:
    """Whether L{switch.twistedSetting} is wrapped."""
    return switch.twistedSetting is _watched


def unlisted(path: str) -> str | None:
    """Why the test file C{path} (relative to the checkout) must be in
    L{READERS} and is not, if it read the variable (C{None}: all is well)."""
    if path not in READ_BY or path in READERS or path.startswith(EXEMPT):
        return None
    return (
        f"{path} reads ${TWISTED_ENV} (through mcpgateway.tuned.switch.twistedSetting)"
        f" but is not listed in {READERS_FILE.relative_to(READERS_FILE.parents[2])}:"
        " add it, or CI's stock pass does not run it on stock Twisted"
    )


def main(argv: list[str]) -> None:
    for path in sorted(READERS | set(argv)):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
