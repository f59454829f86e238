# -*- test-case-name: tests.core.pools.test_pool -*-
"""The children of a pool's sessions that have one of their own:
L{OwnedChildren}.

Every kind of pool may have some: a per-session server's
(L{mcpgateway.core.pools.placement.SessionPlacement}), and the new sessions
of a promoted shared or scoped server. Each session's child is spawned at
that session's C{initialize}, which is forwarded to it, and stopped when the
session ends. A session whose child is not running (restored after a
restart, crashed, or moved here from a shared child) gets a fresh child on
its next request: its own C{initialize} and C{notifications/initialized}
(and its log level and subscriptions) are replayed before that request, so
the client's session id keeps working and no client initializes again. A
session whose child a restart kept (L{mcpgateway.core.adopted}) goes on
with it: nothing is replayed. A session whose child was started anew for
any reason but a lazy start is told so with its next answer
(L{mcpgateway.core.pools.lostchild}).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mcpgateway.core.exchange import Sink
from mcpgateway.core.fanout import OwnerFanout
from mcpgateway.core.identity import presentedResult
from mcpgateway.core.pools.attach import release
from mcpgateway.core.pools.childmaker import ChildMaker
from mcpgateway.core.pools.lostchild import LostChildNotices
from mcpgateway.core.pools.pool import SessionGone, childGone, disabledError
from mcpgateway.core.pools.poollauncher import PoolLauncher
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.status import Lifecycle
from mcpgateway.core.upstream import Upstream
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs

LAZY_START = "answered from the catalog of its scope"
"""Why a session's child starts at its first request the catalog cannot
answer (L{mcpgateway.core.pools.scopecatalog}): not a child lost."""


class OwnedChildren:
    """The children of a pool's sessions that have one of their own, by
    session id: spawned at the session's C{initialize} (forwarded to it),
    stopped when it ends; a session whose child is not running (restored,
    crashed, moved here) gets one on its next request, the session's
    C{initialize} replayed to it.

    @ivar closed: how many sessions were closed (their children stopped).
    @ivar notices: the sessions to be told their child was started anew.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        spec: Callable[[], ServerSpec],
        disabled: Callable[[], bool],
        maker: ChildMaker,
        launcher: PoolLauncher,
        notices: LostChildNotices,
    ) -> None:
        """
        @param spec: the server as configured now.
        @param disabled: whether requests are refused (the management API).
        @param notices: the sessions to be told their child was started anew.
        """
        self._spec = spec
        self._disabled = disabled
        self._maker = maker
        self._launcher = launcher
        self._perSession: dict[str, Upstream] = {}
        self._owners: dict[str, Session] = {}
        self.closed = 0
        self._replays: dict[str, list[Deferred[Upstream]]] = {}
        """Sessions whose child has not been initialized yet, with the
        requests waiting for that (an empty list: none started yet)."""
        self._why: dict[str, str] = {}
        """Why each of those sessions gets a new child (for the log)."""
        self.notices = notices

    def __contains__(self, session: Session) -> bool:
        return session.id in self._perSession

    def __bool__(self) -> bool:
        return bool(self._perSession)

    def upstreams(self) -> list[Upstream]:
        """Every session's own child."""
        return list(self._perSession.values())

    def items(self) -> list[tuple[str, Upstream]]:
        """Every session's own child, with its session id."""
        return list(self._perSession.items())

    def owner(self, sessionId: str) -> Session | None:
        """The session C{sessionId} whose child is its own (C{None}: none)."""
        return self._owners.get(sessionId)

    def childById(self, sessionId: str) -> Upstream | None:
        """The upstream of session C{sessionId}'s own child (C{None}: none)."""
        return self._perSession.get(sessionId)

    def child(self, session: Session) -> Upstream | None:
        """The upstream of C{session}'s own child (C{None}: none)."""
        return self._perSession.get(session.id)

    def _add(self, session: Session) -> Upstream:
        variant = getattr(session, "variant", None)  # a test's double may have none
        launch = None if variant is None else variant.launch
        upstream = self._maker.make(OwnerFanout(session), launch)
        self._perSession[session.id] = upstream
        self._owners[session.id] = session
        upstream.router.attach(session)
        return upstream

    def _start(self, session: Session, upstream: Upstream) -> Deferred[None]:
        """Start C{upstream} with the launch spec of C{session}'s route."""
        launcher = self._launcher
        variant = getattr(session, "variant", None)

        def launch() -> Deferred[None]:
            def spawn(spec: ServerSpec) -> Deferred[None]:
                upstream.spec = spec.forPrincipal(getattr(session, "principal", ""))
                return upstream.ensure()

            return launcher.launchOf(variant).addCallback(spawn)

        return launcher.whenLaunchable(launch)

    def open(self, session: Session, initialize: jsonrpc.Message) -> Deferred[jsonrpc.Message]:
        """Spawn the session's own child and forward its C{initialize} to it."""
        upstream = self._add(session)

        def forward(_: None) -> Deferred[jsonrpc.Message]:
            return upstream.router.request(session, initialize, None)

        def adopt(response: jsonrpc.Message) -> jsonrpc.Message:
            result = response.get("result")
            if isinstance(result, dict):
                upstream.sessionInitializeResult = result
                upstream.sessionCapabilities = session.capabilities
                if isinstance(result.get("protocolVersion"), str):
                    session.protocolVersion = result["protocolVersion"]
                return {**response, "result": presentedResult(result, upstream.spec)}
            return response

        return self._start(session, upstream).addCallback(forward).addCallback(adopt)

    def restore(self, session: Session, why: str = "restored after a gateway restart") -> None:
        """Give C{session} a child to be started, and its C{initialize}
        replayed, on its next request (C{why}: for the log line then)."""
        self._add(session)
        self._replays[session.id] = []
        self._why[session.id] = why

    def takeOver(self, session: Session, shared: Upstream) -> bool:
        """Move C{session}, opened on the shared child C{shared} before the
        server was promoted, to a child of its own (started, and the
        session's C{initialize} replayed, by the request that comes now),
        unless a request of it is in flight on C{shared}: that one finishes
        where it is, and a later request moves it. Whether it moved."""
        if any(ex.session is session for ex in shared.router.clientExchanges()):
            return False
        release(shared, session, "moved to a child of its own", keep=True)
        self.restore(session, "moved to a child of its own: the server was promoted")
        return True

    def gone(self, session: Session) -> str | None:
        """Why C{session} cannot be served any more, or C{None}. A session
        whose child exited is not gone: its next request starts a new one."""
        if session.id in self._replays:
            return None
        upstream = self._perSession.get(session.id)
        if upstream is None:
            return None if self._disabled() else childGone(self._spec().name)
        if upstream.state is Lifecycle.STOPPED and not self._disabled():
            self._relaunch(session, upstream)
        return None

    def _relaunch(self, session: Session, upstream: Upstream) -> None:
        """C{session}'s child exited: its next request starts a new one."""
        why = upstream.lastExit or "exited"
        self._replays[session.id] = []
        self._why[session.id] = f"whose child {why}"
        self.log.info(
            "server {server}: the child of session {sid} {why}; its next request starts a"
            " new one and replays the session's initialize",
            server=self._spec().name,
            sid=session.shortId,
            why=why,
        )

    def replaying(self, session: Session) -> bool:
        return session.id in self._replays

    def ready(self, session: Session) -> Deferred[Upstream]:
        upstream = self._perSession.get(session.id)
        replaying = session.id in self._replays
        if not replaying and upstream is not None and upstream.state is Lifecycle.RUNNING:
            return succeed(upstream)
        if self._disabled():
            return fail(disabledError(self._spec().name))
        waiters = self._replays.get(session.id)
        if waiters is not None and upstream is not None:
            waiter: Deferred[Upstream] = Deferred()
            waiters.append(waiter)
            if len(waiters) == 1:
                self._replay(session, upstream)
            return waiter
        raise SessionGone(childGone(self._spec().name))

    def forward(
        self, session: Session, message: jsonrpc.Message, related: Sink | None
    ) -> Deferred[jsonrpc.Message]:
        """Forward C{message} once C{session}'s child runs and has had the
        session's C{initialize} replayed; its answer says so if the child
        is new (L{LostChildNotices})."""
        answer = self.ready(session).addCallback(
            lambda upstream: upstream.router.request(session, message, related)
        )
        return answer.addCallback(self.notices.tell, session, related)

    def _replay(self, session: Session, upstream: Upstream) -> None:
        """Start the restored C{session}'s child and bring it to where the
        session's client believes it is; then release the waiting requests."""
        initialize = jsonrpc.request(
            "mcpgateway-restore",
            "initialize",
            {
                "protocolVersion": session.protocolVersion,
                "capabilities": session.capabilities,
                "clientInfo": session.clientInfo,
            },
        )

        def initialized(response: jsonrpc.Message) -> Upstream:
            if not isinstance(response.get("result"), dict):
                error = response.get("error") or {}
                raise SessionGone(
                    f"the child of server '{self._spec().name}' refused the replayed"
                    f" initialize: {error.get('message', 'no result')}"
                )
            upstream.sessionInitializeResult = response["result"]
            upstream.sessionCapabilities = session.capabilities
            router = upstream.router
            router.clientNotification(session, jsonrpc.notification("notifications/initialized"))
            if session.logLevel is not None:
                router.call("logging/setLevel", {"level": session.logLevel})
            for uri in sorted(session.subscriptions):
                router.call("resources/subscribe", {"uri": uri})
            why = self._why.get(session.id, "restored")
            if why == LAZY_START:
                self.log.info(
                    "server {server}: session {sid} ({why}) called: its child started"
                    " (pid {pid}) with its initialize replayed",
                    server=self._spec().name,
                    sid=session.shortId,
                    why=why,
                    pid=upstream.pid,
                )
                return upstream
            self.log.warn(
                "server {server}: session {sid} ({why}) goes on on a fresh child (pid {pid});"
                " its initialize was replayed, and what the previous child kept in memory"
                " is lost",
                server=self._spec().name,
                sid=session.shortId,
                why=why,
                pid=upstream.pid,
            )
            if session.called:  # a session no child served lost nothing
                self.notices.mark(session, why)
            return upstream

        def release(result: Upstream | Failure) -> None:
            waiters = self._replays.pop(session.id, [])
            if not isinstance(result, Failure):
                self._why.pop(session.id, None)
            if isinstance(result, Failure):
                self._replays[session.id] = []  # the next request tries again
                self.log.warn(
                    "server {server}: restoring session {sid} failed: {why}",
                    server=self._spec().name,
                    sid=session.shortId,
                    why=result.getErrorMessage(),
                )
            for waiter in waiters:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)

        def replay(_: None) -> Deferred[Upstream]:
            if upstream.adopted:  # the previous process's child, initialized by this session
                return succeed(upstream)
            return upstream.router.request(session, initialize, None).addCallback(initialized)

        self._start(session, upstream).addCallback(replay).addBoth(release)

    def adopted(self, session: Session) -> None:
        """C{session}'s child was kept from a restart's previous process
        (L{mcpgateway.core.adopted}): no C{initialize} is replayed to it."""
        if self._replays.get(session.id) == []:
            del self._replays[session.id]
            self._why.pop(session.id, None)

    def close(self, session: Session, reason: str = "session ended") -> Deferred[None]:
        """Detach C{session} and stop its child."""
        upstream = self._perSession.pop(session.id, None)
        self._owners.pop(session.id, None)
        self._replays.pop(session.id, None)
        self._why.pop(session.id, None)
        self.notices.forget(session)
        if upstream is None:
            return succeed(None)
        upstream.router.detach(session, reason)
        self.closed += 1
        return upstream.stop()

    def principalOf(self, upstream: Upstream) -> str | None:
        """The key of the principal of the session whose own child
        C{upstream} is (C{""}: none); C{None}: not a session's own child."""
        for sessionId, child in self._perSession.items():
            if child is upstream:
                return str(getattr(self._owners.get(sessionId), "principal", ""))
        return None

    def ownChildPids(self, session: Session) -> list[int]:
        upstream = self._perSession.get(session.id)
        return [upstream.pid] if upstream is not None and upstream.pid is not None else []

    def endAll(self, endSession: Callable[[Session], object]) -> None:
        """End every session that has a child of its own (through C{endSession})."""
        for session in list(self._owners.values()):
            endSession(session)

    def orphans(self, vanished: list[Upstream]) -> tuple[int, list[Session]]:
        """Children found stopped that are not in C{vanished} (exited before),
        and the sessions whose own child is gone: none, since a session whose
        child exited gets a new one on its next request (L{gone}); the
        reaper's idle timeout ends it if no request comes."""
        dead = 0
        for sessionId, upstream in list(self._perSession.items()):
            if sessionId in self._replays:
                continue  # its child starts on its next request
            if upstream.state is Lifecycle.STOPPED:
                if upstream not in vanished:
                    dead += 1
                self._relaunch(self._owners[sessionId], upstream)
        return dead, []
