#!/usr/bin/env python3
"""Run C{twistd} with a tracer that a signal turns on and off: which of the
gateway's files a window of calls runs code of, and which define the
classes of the objects those calls touch.

Usage: calltrace.py OUTFILE [twistd arguments...] (as C{twistd}, e.g.
C{calltrace.py out.json -n --pidfile= mcpgateway --port 9100})

The process is C{twistd} itself (L{twisted.scripts.twistd.run}), with its
defaults: nothing in the gateway knows it is traced. L{TRACE_ON} (SIGRTMIN)
installs the tracer on the reactor's thread and writes C{OUTFILE.on};
L{TRACE_OFF} (SIGRTMIN+1) removes it and writes C{OUTFILE}, one JSON object:

  - C{ran}: the files under C{mcpgateway/} whose functions were called;
  - C{read}: those and the files defining the classes (and their bases)
    of the gateway's objects the window touched: each called function's
    C{self} and arguments, the locals it returns with, and the attributes
    of its C{self} that its code names (C{self.notices.untold} names
    C{notices}), whichever function of whichever package ran;
  - C{functions}: the functions of those files that were called, each as
    C{file:qualified name} (what of a file a call runs);
  - C{loaded}: the modules of the package the process holds as the
    window ends (what the calls and everything before them loaded).

C{read} is what a reader of the call has to open: reading another object's
attributes instead of calling it takes its file off C{ran} but not off
C{read}. Only the reactor's thread is traced (this Python has no
C{threading.setprofile_all_threads}); a call's work runs there.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from types import CodeType, FrameType
from typing import Any

TRACE_ON = signal.SIGRTMIN
TRACE_OFF = signal.SIGRTMIN + 1


class Tracer:
    """What a window of the process's work touched of the package under
    C{root} (a folder path ending in the separator)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.ran: set[str] = set()
        self.read: set[str] = set()
        self.functions: set[tuple[str, str]] = set()
        self._fileOfType: dict[type, tuple[str, ...]] = {}
        self._selfNames: dict[CodeType, tuple[str, ...]] = {}

    def filesOf(self, kind: type) -> tuple[str, ...]:
        """The files of the package defining C{kind} and its bases."""
        files = self._fileOfType.get(kind)
        if files is None:
            found = []
            for cls in kind.__mro__:
                module = sys.modules.get(cls.__module__)
                path = getattr(module, "__file__", None) or ""
                if path.startswith(self.root):
                    found.append(path)
            files = self._fileOfType[kind] = tuple(found)
        return files

    def touched(self, value: Any) -> None:
        """C{value} was in the call's hands: its class's files are read."""
        self.read.update(self.filesOf(type(value)))

    def attributesNamed(self, code: CodeType) -> tuple[str, ...]:
        """The attribute names C{code} uses: the ones of C{self} it may read."""
        names = self._selfNames.get(code)
        if names is None:
            names = self._selfNames[code] = tuple(code.co_names)
        return names

    def touchedSelf(self, obj: Any, code: CodeType) -> None:
        """C{obj} is a called function's C{self}: it and the attributes of it
        the function's code names are read."""
        self.touched(obj)
        state = getattr(obj, "__dict__", None)
        if not isinstance(state, dict):
            return
        for name in self.attributesNamed(code):
            if name in state:
                self.touched(state[name])

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            filename = code.co_filename
            if filename.startswith(self.root):
                self.ran.add(filename)
                self.functions.add((filename, code.co_qualname))
            if code.co_argcount:
                values = frame.f_locals
                for index, name in enumerate(code.co_varnames[: code.co_argcount]):
                    if name in values:
                        if index == 0 and name == "self":
                            self.touchedSelf(values[name], code)
                        else:
                            self.touched(values[name])
        elif event == "return" and frame.f_code.co_filename.startswith(self.root):
            for value in frame.f_locals.values():
                self.touched(value)
            self.touched(arg)

    def report(self) -> dict[str, list[str]]:
        """The files run and read, relative to the package's parent folder."""
        parent = os.path.dirname(self.root.rstrip(os.sep)) + os.sep

        def names(paths: set[str]) -> list[str]:
            return sorted(path[len(parent) :].replace(os.sep, "/") for path in paths)

        return {
            "ran": names(self.ran),
            "read": names(self.ran | self.read),
            "functions": sorted(
                f"{name}:{function}" for path, function in self.functions for name in names({path})
            ),
        }


def install(out: str) -> None:
    """The signal handlers that start and stop the trace written to C{out}."""
    import mcpgateway

    root = os.path.dirname(os.path.abspath(mcpgateway.__file__)) + os.sep
    current: list[Tracer] = []

    def on(signum: int, frame: FrameType | None) -> None:
        current[:] = [Tracer(root)]
        sys.setprofile(current[0])
        with open(out + ".on", "w") as f:
            f.write("on\n")

    def off(signum: int, frame: FrameType | None) -> None:
        sys.setprofile(None)
        report = current[0].report() if current else {"ran": [], "read": []}
        report["loaded"] = sorted(name for name in sys.modules if name.startswith("mcpgateway."))
        with open(out + ".part", "w") as f:
            json.dump(report, f)
        os.replace(out + ".part", out)

    signal.signal(TRACE_ON, on)
    signal.signal(TRACE_OFF, off)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    install(out)
    sys.argv = ["twistd", *argv]
    from twisted.scripts.twistd import run

    run()


if __name__ == "__main__":
    main()
