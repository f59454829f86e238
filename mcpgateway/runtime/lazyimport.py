# -*- test-case-name: tests.runtime.test_lazyimport -*-
"""Modules the gateway process loads only when something first uses them.

C{twisted.web.server} imports C{twisted.web.util} for its error pages only
(C{formatFailure}, C{_PRE}, read inside functions), and that module brings
C{twisted.web.template}'s machinery, C{hyperlink}, C{idna} and C{xml.sax}:
about 1.5 MB resident that a gateway serving MCP traffic never touches
(idle RSS). L{deferImport} puts a lazy module in its place
(C{importlib.util.LazyLoader}) before the web tree is imported: the real
module is executed on the first read of one of its attributes, by whoever
reads it first, and is the same module from then on.

The reactor's UDP and UNIX-socket modules are deferred the same way
(L{REACTOR_DEFERRED}), from the options' checks, before the reactor is
imported: C{twisted.internet.posixbase} binds them at import and reads
them only in C{listenUDP}, C{listenUNIX}, C{connectUNIX} and the like,
which a gateway on TCP never calls (about 0.2 MB).

Only modules that are used from the reactor thread belong in L{DEFERRED}:
before Python 3.12, a thread reading a lazy module's attribute while another
thread executes it gets an C{AttributeError} from the half-built module, and
a module whose execution raised stays half-built in C{sys.modules}.
C{twisted.web.util} is read only by Twisted's error pages, on the reactor
thread (no Klein or treq module imports it); the reactor's own modules are
read by reactor methods, which run on the reactor thread too.
"""

from __future__ import annotations

import importlib.util
import sys

DEFERRED = ("twisted.web.util",)
"""What L{makeService<mcpgateway.tap.makeService>} defers, before it
imports the web tree."""
REACTOR_DEFERRED = ("twisted.internet.udp", "twisted.internet.unix")
"""What L{Options.postOptions<mcpgateway.tap.Options.postOptions>} defers,
before the reactor is imported (C{unix} imports C{udp}: both go when a
UNIX socket is first used)."""


def deferImport(name: str) -> bool:
    """Make C{name} a module that is executed on the first read of one of
    its attributes; whether it did (not when C{name} is already imported or
    cannot be found). Its parent package is imported now and gets the lazy
    module as its attribute: C{from parent import name} then finds it
    without reading any of its attributes (Python 3.11's import system
    reads C{__spec__} of a module it looks up in C{sys.modules}, which
    would execute it at once)."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return False
    parentName, _, child = name.rpartition(".")
    parent = importlib.import_module(parentName) if parentName else None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    if parent is not None:
        setattr(parent, child, module)
    return True


def deferImports(names: tuple[str, ...] = DEFERRED) -> list[str]:
    """L{deferImport} each of C{names}; the names it deferred."""
    return [name for name in names if deferImport(name)]
