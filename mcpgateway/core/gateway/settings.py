# -*- test-case-name: tests.core.gateway.test_gateway -*-
"""What a L{mcpgateway.core.gateway.gateway.Gateway} is made with besides its servers
and its spawner: L{GatewaySettings}, one frozen value the wiring fills in
(C{mcpgateway.tap}), and the protocols of the collaborators it names.

Every field has a default that suits tests and embedders: no persistence,
no predecessor, no pid lookups, random session ids, catalogs in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypedDict

from twisted.internet.defer import Deferred

from mcpgateway.core.era2026.waits import BridgeWaits
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.healing import HealingPolicy
from mcpgateway.core.pools.pool import PromotionSink
from mcpgateway.core.pools.scopecatalogfile import ScopePersistence
from mcpgateway.core.sessions import SessionIds, SessionPersistence
from mcpgateway.core.spec import ServerSpec
from mcpgateway.core.toolgate import PinnedTools
from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    # The aggregate endpoint's side loads on its first use (a smaller idle footprint).
    from mcpgateway.core.aggregate.session import ToolsLike
    from mcpgateway.core.tasks.manager import TaskManager

Connection = tuple[str, int, str, int, int]
"""A loopback TCP connection: peer host, peer port, local host, local port,
and the inode of the client's socket as the door named it at accept (0:
not known, where no door named it: the kernel could not be asked)."""
PidFinder = Callable[[Connection, Sequence[int]], Deferred[int | None]]
"""Finds the pid of the process on the other end of a loopback connection,
given the connection and known pids to try first: the holder of the
client's socket inode where the connection carries it, else of the socket
its addresses name when the finder looks."""


class Resolve(Protocol):
    """What the gateway needs of L{mcpgateway.config.resolve.Resolver}."""

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None: ...

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]: ...

    def failureOf(self, spec: ServerSpec) -> str | None: ...


@dataclass(frozen=True)
class GatewaySettings:
    """The gateway's tunables and the collaborators it is wired with."""

    healing: HealingPolicy | None = None
    """When failing servers are restarted and given up on (C{None}: the
    default policy)."""
    pidFinder: PidFinder | None = None
    """Finds the client pid of a loopback connection; C{None} disables it."""
    resolver: Resolve | None = None
    """Resolves C{npx}/C{uvx} servers to their real binary; C{None}: they
    are launched through their wrapper."""
    drainTimeout: float = 5.0
    """Seconds requests in flight may take to finish when the gateway stops."""
    persistence: SessionPersistence | None = None
    """Where the sessions outlive the process; C{None}: they end with it."""
    predecessor: Deferred[None] | None = None
    """Fires when the gateway process this one took over from has exited
    (C{None}: there is none)."""
    predecessorWait: float = 60.0
    """Seconds a request for a session this process does not know waits for
    the predecessor to exit (the wiring sets it from the restart's timeouts)."""
    promotions: PromotionSink | None = None
    """Keeps the servers promoted to a child per session (C{None}: promotions
    last as long as the process)."""
    era2026InputTimeout: float = BridgeWaits.inputTimeout
    """Seconds a 2026 call waits for its client's next round (then it is
    cancelled on its child)."""
    maxSuspendedCalls: int = BridgeWaits.maxSuspended
    """2026 calls per server that may wait for their client's input at once."""
    sessionIds: SessionIds | None = None
    """Makes the ids of new sessions from their facts (a cluster's sealer:
    L{mcpgateway.cluster.sealing}); C{None}: random ids."""
    catalogs: Catalogs | None = None
    """What every server lists (the aggregate endpoint's source), kept up to
    date from every child that starts; C{None}: in memory only, and listed
    only when the aggregate asks."""
    scopeStore: ScopePersistence | None = None
    """Where the catalogs of the servers' scopes (a per-session, workspace,
    credential or per-user server's start-ups are answered from) outlive
    the process (L{mcpgateway.core.pools.scopecatalogfile}); C{None}: in
    memory only, and each scope key is probed again after a restart."""
    tools: ToolsLike | None = None
    """The aggregate endpoint's own tools (search, describe, invoke,
    get_result); C{None}: theirs, made with the aggregator, with the search
    index and the schema checks worked on by L{runInThread}."""
    resultBytes: int | None = None
    """What the aggregate's kept results may take in all (C{None}: the default)."""
    runInThread: RunInThread | None = None
    """Runs a function in a worker thread (C{deferToThread}); C{None}: in the
    reactor thread (tests and embedders)."""
    clientAlive: Callable[[int], bool] | None = None
    """Whether a client process (a session's C{clientPid}) still runs; a saved
    session whose client exited while no gateway ran is not restored (its
    child would start for nobody). C{None}: every saved session is restored
    (the reaper ends those of dead clients)."""
    toolPins: PinnedTools | None = None
    """The servers' pinned tools, which every child's router applies to its
    C{tools/list} answers and C{tools/call} requests (C{None}: none pinned;
    L{mcpgateway.trust.policy.PinPolicy})."""
    namesDecided: bool = False
    """Whether a call's name is decided before the call at start
    (C{--policy}, the config's rate limits): every child is then listed
    before a call of a kind it has not listed whole, so that a name it did
    not list is refused (L{mcpgateway.core.toolgate}); C{False}: a laptop
    gateway, which decides no name, forwards calls as sent. A reload
    decides again (L{mcpgateway.core.gateway.serverset.ServerSet.decideNames})."""
    lazyStart: bool = True
    """Answer a client's start-up on a shared server (C{initialize} and the
    lists) from its saved catalog when one is current, starting its child at
    the first request the catalog cannot answer (L{mcpgateway.core.gateway.catalogserve});
    C{False} (C{--no-lazy-start}): every server's child starts at its first
    session's C{initialize}, whatever its entry says."""
    tasks: TaskManager | None = None
    """Serves the Tasks extension to MCP 2026-07-28 clients, and keeps the
    tasks of the search mode's C{invoke} with C{async} (C{None}: not served:
    C{tasks/*} are unknown methods, every call answers when it ends)."""


class GatewayOptions(TypedDict, total=False):
    """The fields of L{GatewaySettings} as keywords of
    L{mcpgateway.core.gateway.gateway.Gateway} (for callers that name a few)."""

    healing: HealingPolicy | None
    pidFinder: PidFinder | None
    resolver: Resolve | None
    drainTimeout: float
    persistence: SessionPersistence | None
    predecessor: Deferred[None] | None
    predecessorWait: float
    promotions: PromotionSink | None
    era2026InputTimeout: float
    maxSuspendedCalls: int
    sessionIds: SessionIds | None
    catalogs: Catalogs | None
    scopeStore: ScopePersistence | None
    tools: ToolsLike | None
    resultBytes: int | None
    runInThread: RunInThread | None
    clientAlive: Callable[[int], bool] | None
    toolPins: PinnedTools | None
    namesDecided: bool
    lazyStart: bool
    tasks: TaskManager | None
