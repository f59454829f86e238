# -*- test-case-name: tests.core.test_upstream -*-
"""The start of a child that speaks only MCP 2026-07-28: L{Era2026Start}.

A child speaks the handshake era (2025) unless its entry says C{"era":
"era2026"}, or it answers C{initialize} with -32022 listing only 2026
revisions (L{mcpgateway.core.era2026.translate.era2026Only}: a mixed list is
refused as any failed handshake). A 2026 child gets no C{initialize}: its
upstream runs C{server/discover} on the same process, puts a
L{ChildAdapter<mcpgateway.core.era2026support.ChildAdapter>} (made by the
L{Era2026Support<mcpgateway.core.era2026support.Era2026Support>} the upstream
was given) between the router and the child, and makes the discover result
into the C{initializeResult} handshake sessions are answered from. A child of
one session (no handshake by the gateway) that refuses its client's
C{initialize} so is switched the same way, and that C{initialize} is answered
from the discover result.

Only such a child needs what is here; the life every child shares (its
spawn, its handshake, its loss, its stop) is its upstream's
(L{mcpgateway.core.upstream}), which L{Era2026Start} reads and sets through
L{Era2026Host}. Nothing of the 2026-07-28 feature is imported here: the wire
the upstream is handed loads it on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.child import Child
from mcpgateway.core.era2026support import ChildAdapter, Era2026Support
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.router import Router
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.protocol import jsonrpc, versions

if TYPE_CHECKING:
    from mcpgateway.protocol.requeststate import StateWrapper


class Era2026Host(Protocol):
    """What L{Era2026Start} reads and sets of its upstream
    (L{Upstream<mcpgateway.core.upstream.Upstream>}): the child, its router
    and the results a discover gives, and the steps of a start (a refusal,
    an event, running, ready, the waiters released)."""

    era: str
    adapter: ChildAdapter | None
    discoverResult: dict[str, Any] | None
    childInitializeResult: dict[str, Any] | None
    initializeResult: dict[str, Any] | None

    @property
    def log(self) -> Logger: ...

    @property
    def spec(self) -> ServerSpec: ...

    @property
    def router(self) -> Router: ...

    @property
    def child(self) -> Child | None: ...

    @property
    def state(self) -> Lifecycle: ...

    def _refused(self, child: Child, what: str, said: str = ...) -> None: ...

    def _emit(self, kind: str, text: str, **fields: Any) -> None: ...

    def _running(self) -> None: ...

    def _ready(self, child: Child) -> None: ...

    def _release(self, result: Failure | None) -> None: ...


class Era2026Start:
    """Finds out the children of one upstream that speak only 2026-07-28,
    and discovers them in place of their handshake."""

    def __init__(
        self,
        upstream: Era2026Host,
        wire: Era2026Support | None,
        clock: IReactorTime,
        clientInfo: Mapping[str, Any],
        wrapper: StateWrapper | None = None,
    ) -> None:
        """
        @param wire: the 2026-07-28 wire (C{None}: every child of the
            upstream is driven in the handshake era: a -32022 is a failed
            handshake, an entry that says C{"era2026"} is refused).
        @param clientInfo: what the gateway calls itself to the child.
        @param wrapper: seals a 2026 child's C{requestState} for its
            clients (C{None}: the process's, which the adapter takes).
        """
        self._upstream = upstream
        self._wire = wire
        self._clock = clock
        self._clientInfo = clientInfo
        self._wrapper = wrapper

    def only(self, error: Any) -> tuple[str, ...] | None:
        """The revisions of a 2026-only child's -32022 (C{None}: another
        error, or no 2026-07-28 wire)."""
        return None if self._wire is None else self._wire.era2026Only(error)

    def refusesInitialize(self, message: jsonrpc.Message) -> bool:
        """Whether C{message} is a child of one session refusing its
        client's C{initialize} as a 2026-only server does."""
        if "error" not in message or jsonrpc.classify(message) is not jsonrpc.Kind.RESPONSE:
            return False
        exchange = self._upstream.router.exchangeFor(message["id"])
        return (
            exchange is not None
            and exchange.method == "initialize"
            and self.only(message.get("error")) is not None
        )

    def discover(self, child: Child, refusal: Any = None, held: Any = None) -> None:
        """Speak 2026-07-28 to C{child} from now on: discover it. C{refusal}:
        its -32022 to C{initialize} (it was found out), C{held}: the id of a
        session's C{initialize} to answer once it is discovered."""
        upstream = self._upstream
        wire = self._wire
        if wire is None:
            upstream._refused(child, "speaks a revision this gateway was given no wire for")
            return
        offered = self.only(refusal)
        version = wire.spokenVersion(list(offered or versions.ERA2026_VERSIONS))
        if version is None:
            upstream._refused(
                child,
                "speaks only protocol revisions the gateway does not",
                f" ({', '.join(offered or ())})",
            )
            return
        adapter = wire.adapter(
            upstream.router,
            self._clock,
            child.send,
            self._clientInfo,
            version,
            self._wrapper,
        )
        upstream.adapter = adapter
        upstream.era = "era2026"
        upstream.router.attachChild(adapter.toChild)
        if offered is not None:
            upstream.log.info(
                "server {server}: child pid {pid} answered initialize with the revisions"
                " {offered} only; speaking {version} to it",
                server=upstream.spec.name,
                pid=child.pid,
                offered=", ".join(offered),
                version=version,
            )
        upstream.router.call("server/discover").addCallback(self._discovered, child, held)

    def _discovered(self, response: jsonrpc.Message, child: Child, held: Any) -> None:
        upstream = self._upstream
        adapter = upstream.adapter
        if child is not upstream.child or adapter is None:
            return  # that child is gone; its exit already failed the waiters
        try:
            self._discoverAnswered(response, child, adapter, held)
        except Exception as e:
            upstream.log.failure(
                "server {server}: handling its discover answer failed", server=upstream.spec.name
            )
            upstream._refused(
                child,
                "gave a server/discover answer the gateway cannot use",
                f" ({type(e).__name__}: {e})",
            )

    def _discoverAnswered(
        self,
        response: jsonrpc.Message,
        child: Child,
        adapter: ChildAdapter,
        held: Any,
    ) -> None:
        upstream = self._upstream
        result = response.get("result")
        if not isinstance(result, dict):
            error = response.get("error")
            text = error.get("message", error) if isinstance(error, dict) else error
            upstream._refused(child, "refused server/discover", f": {text}")
            return
        wire = self._wire
        if wire is None or wire.spokenVersion(result.get("supportedVersions")) is None:
            upstream._refused(
                child,
                "supports none of the revisions the gateway speaks",
                f" (it lists {result.get('supportedVersions')!r})",
            )
            return
        adapter.discovered(result)
        upstream.discoverResult = result
        upstream.childInitializeResult = adapter.initializeResult
        if adapter.initializeResult is not None:  # handshake sessions' answers too
            adapter.initializeResult = presentedResult(adapter.initializeResult, upstream.spec)
        upstream.initializeResult = adapter.initializeResult
        upstream._emit("initialized", f"discovered (speaks {adapter.version})", pid=child.pid)
        if upstream.state is not Lifecycle.RUNNING:
            upstream._running()
        upstream.router.resubscribe()
        adapter.start()
        info = (upstream.initializeResult or {}).get("serverInfo")
        upstream.log.info(
            "server {server} discovered (protocol {version}, {name})",
            server=upstream.spec.name,
            version=adapter.version,
            name=info.get("name") if isinstance(info, dict) else None,
        )
        if held is not None:
            exchange = upstream.router.exchangeFor(held)
            session = exchange.session if exchange is not None else None
            adapter.answerInitialize(held, getattr(session, "protocolVersion", None))
        upstream._ready(child)
        upstream._release(None)
