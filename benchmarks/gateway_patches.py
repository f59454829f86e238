"""Runtime patches of the gateway, for measuring suggested code changes.

Benchmark-only: nothing here is part of the gateway. Each patch is a small,
reversible stand-in for a change suggested in docs/design/costs.md, applied
in the gateway process by ``twist_wrapper.py --patches a,b`` (or in process by
``hotpath.py --patches``) so that ``bench.py --experiments`` can measure what
the change would buy before anyone edits ``mcpgateway/``. A patch whose change
is already in the gateway reports itself as not applicable and is skipped.

  noopenssl    keep pyOpenSSL/cryptography out of the process (twisted.internet.tcp
               imports them when they are installed; the gateway serves no TLS)
  lateheaders  do not flush the status line and headers of a POST's SSE stream
               before its first event, so a quick call's headers, event and last
               chunk leave in one send instead of two
  flushwrites  send what a reactor turn wrote at the end of that turn, instead of
               registering the descriptor for writability and sending on the next
               epoll wake-up (Twisted's FileDescriptor.write); applies to the client
               sockets and the child's stdin pipe alike
  asyncio      run on Twisted's asyncio reactor (AsyncioSelectorReactor on the stdlib's
               selector loop) instead of the epoll reactor
  uvloop       the asyncio reactor on uvloop's loop (libuv, written in Cython): the
               reactor's own loop (waiting, timers, dispatch) in C instead of Python

Patches that were measured here and have since been made in the gateway itself:
``parsePOSTFormSubmission=False`` (d3cc881), one keep-alive ticker for all SSE
streams and cached loopback checks (acd0218), pyOpenSSL left out (service/endpoints.leaveOutTLS),
a turn's writes sent at its end (``flushwrites``, as ``mcpgateway.tuned.turnflush``
with the transports' own ``doWrite`` instead of Twisted's private attributes).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

ALL = ("noopenssl", "lateheaders", "flushwrites", "asyncio", "uvloop")


class _Blocker:
    blocked = ("OpenSSL", "cryptography", "service_identity")

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".", 1)[0] in self.blocked:
            raise ImportError(f"{name} blocked by the benchmark's noopenssl patch")


def notApplicable(name: str) -> str | None:
    """Why patch C{name} would change nothing in this checkout, or C{None}.
    (Imports gateway modules: call it in the orchestrator, not before a patch.)"""
    if name == "noopenssl":
        import importlib.util

        if importlib.util.find_spec("mcpgateway.startup.endpoints") is not None:
            return "the gateway already leaves pyOpenSSL out (service/endpoints.leaveOutTLS)"
    if name == "flushwrites":
        import importlib.util

        if importlib.util.find_spec("mcpgateway.tuned.turnflush") is not None:
            return "the gateway sends what a turn wrote at its end (mcpgateway.tuned.turnflush)"
    if name == "uvloop":
        import importlib.util

        if importlib.util.find_spec("uvloop") is None:
            return "uvloop is not installed"
    if name == "lateheaders":
        from mcpgateway.web.plumbing import sse

        if 'write(b"")' not in inspect.getsource(sse.SSEStream.__init__):
            return "SSEStream no longer flushes headers at once"
    return None


def applyEarly(names: set[str]) -> None:
    """Patches that must run before Twisted is imported."""
    unknown = names - set(ALL)
    if unknown:
        raise SystemExit(f"unknown patches: {', '.join(sorted(unknown))}")
    if "noopenssl" in names:
        sys.meta_path.insert(0, _Blocker())
    if "uvloop" in names or "asyncio" in names:
        import asyncio

        if "uvloop" in names:
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        else:
            loop = asyncio.SelectorEventLoop()
        asyncio.set_event_loop(loop)
        from twisted.internet import asyncioreactor

        asyncioreactor.install(loop)


def _installFlushWrites() -> None:
    """Writes made during one reactor turn are sent at the start of the next
    runUntilCurrent (before the next epoll wait), straight through doWrite;
    only what the kernel does not take is left to the usual writability
    wake-up. Saves an epoll round trip and two epoll_ctl per write."""
    from twisted.internet import abstract  # not the reactor: the gateway's options decide

    pending: list[Any] = []
    scheduled = [False]
    dataMustBeBytes = abstract._dataMustBeBytes

    def flush() -> None:
        from twisted.internet import reactor

        scheduled[0] = False
        items = pending[:]
        pending.clear()
        for fd in items:
            fd._flushQueued = False
            if not fd.connected or fd._writeDisconnected:
                continue
            if fd.dataBuffer[fd.offset :] or fd._tempDataLen:
                why = fd.doWrite()
                if why:
                    reactor._disconnectSelectable(fd, why, False)  # type: ignore[attr-defined]
                elif fd.dataBuffer[fd.offset :] or fd._tempDataLen:
                    fd.startWriting()  # the kernel buffer is full: wait for writability

    def queue(fd: Any) -> None:
        if getattr(fd, "_flushQueued", False):
            return
        fd._flushQueued = True
        pending.append(fd)
        if not scheduled[0]:
            from twisted.internet import reactor

            scheduled[0] = True
            reactor.callLater(0, flush)

    def write(self: Any, data: bytes) -> None:
        dataMustBeBytes(data)
        if not self.connected or self._writeDisconnected or not data:
            return
        self._tempDataBuffer.append(data)
        self._tempDataLen += len(data)
        self._maybePauseProducer()
        queue(self)

    def writeSequence(self: Any, iovec: Any) -> None:
        for item in iovec:
            dataMustBeBytes(item)
        if not self.connected or not iovec or self._writeDisconnected:
            return
        self._tempDataBuffer.extend(iovec)
        for item in iovec:
            self._tempDataLen += len(item)
        self._maybePauseProducer()
        queue(self)

    abstract.FileDescriptor.write = write  # type: ignore[method-assign]
    abstract.FileDescriptor.writeSequence = writeSequence  # type: ignore[method-assign]


def apply(names: set[str]) -> None:
    if "flushwrites" in names:
        _installFlushWrites()
    if "lateheaders" in names:
        from mcpgateway.web.plumbing import sse

        streamInit = sse.SSEStream.__init__

        def lateInit(self: Any, request: Any, *args: Any, **kwargs: Any) -> None:
            if request.method != b"POST":
                streamInit(self, request, *args, **kwargs)
                return
            write = request.write
            request.write = lambda data: None if data == b"" else write(data)
            try:
                streamInit(self, request, *args, **kwargs)
            finally:
                del request.write

        sse.SSEStream.__init__ = lateInit  # type: ignore[method-assign]
