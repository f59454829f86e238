# -*- test-case-name: tests.web.pages.test_liveness,tests.web.test_team_web -*-
"""Who sees what of C{GET /health} and C{GET /metrics}.

Both stay open: monitors, load balancers, the container's C{HEALTHCHECK}
and Kubernetes probes call them without a token. What they show depends on
the caller (L{HealthVisibility}):

  - a gateway that requires no token (bound to loopback only) shows
    everything to a caller by a loopback name: the single-user machine;
  - a gateway that requires tokens (docs/guide/team.md) shows a caller without an
    admin's token only that it lives: C{/health} is
    C{{"status": "ok", "detail": "liveness", "hint": ...}} and C{/metrics}
    the one gauge C{mcpgateway_up 1}. Nothing names a server, a route key,
    a session, a version, a pid or a path, so a caller with no token (or
    with a token that is not an admin's) learns nothing of what the gateway
    serves;
  - an admin's token, or the management API's C{--api-token}, shows
    everything;
  - C{--public-health} shows every caller the figures (each server, its
    state and counts, the version, the auth line, every metric) but no
    text a child wrote, no launch path and no command: those stay an
    admin's (L{mcpgateway.report.health}).

A token presented and refused gets what a caller without one gets, not a
401: these paths stay open. The figures' body (L{mcpgateway.report.health})
loads at the first C{/health} that shows them: a gateway nobody asks never
does.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.httpbase.principal import Principal, Verdict
from mcpgateway.protocol import jsonrpc
from mcpgateway.runtime import logs
from mcpgateway.web.endpoints.guard import showsChildText
from mcpgateway.web.plumbing.replies import errorReply, jsonReply

if TYPE_CHECKING:
    from mcpgateway.config.problems import ConfigProblems
    from mcpgateway.flow.held import HeldCalls
    from mcpgateway.httpbase.door import Door
    from mcpgateway.web.teamcluster import TeamServices

_log = Logger(observer=logs.observer, namespace="mcpgateway.web.pages.liveness")

LIVENESS_HINT = (
    "liveness only: an admin's token (or the gateway's --api-token) shows the servers and"
    " their figures"
)
"""What the liveness body of C{/health} says about the rest."""

LIVENESS_METRICS = (
    b"# HELP mcpgateway_up 1 while the gateway serves; its other metrics need an admin's"
    b" token (or --public-health)\n"
    b"# TYPE mcpgateway_up gauge\n"
    b"mcpgateway_up 1\n"
)
"""The body of C{/metrics} to a caller who sees liveness only."""


class HealthVisibility(enum.Enum):
    """How much of C{/health} and C{/metrics} a caller sees."""

    LIVENESS = "liveness"
    """That the gateway lives, nothing more."""
    FIGURES = "figures"
    """Every server and figure, but no text a child wrote, no path, no command."""
    EVERYTHING = "everything"


class Checks(Protocol):
    """The authentication gate (L{mcpgateway.web.plumbing.auth.AuthGate}), as
    this module asks it."""

    def check(self, request: IRequest, server: str | None) -> Verdict | Deferred[Verdict]: ...


@dataclass(frozen=True)
class ProbeAccess:
    """Decides L{HealthVisibility} for a caller of C{/health} or C{/metrics}."""

    gate: Checks | None
    """The gate of a gateway that requires tokens (C{None}: it requires none)."""
    loopbackOnly: bool = True
    """The gateway accepts loopback connections only."""
    publicHealth: bool = False
    """C{--public-health}: every caller sees the figures."""
    apiToken: Callable[[IRequest], bool] | None = None
    """Whether a request carries the management API's C{--api-token}."""

    @property
    def withoutAdmin(self) -> HealthVisibility:
        """What a caller who is not an admin sees: the figures on a gateway
        that requires no token or with C{--public-health}, else liveness."""
        if self.gate is None or self.publicHealth:
            return HealthVisibility.FIGURES
        return HealthVisibility.LIVENESS

    def shown(self, request: IRequest) -> HealthVisibility | Deferred[HealthVisibility]:
        """What C{request}'s caller sees (a Deferred while the gate checks a
        token later: a JWT whose key is being fetched)."""
        if showsChildText(self.loopbackOnly and self.gate is None, None, request):
            return HealthVisibility.EVERYTHING
        if not request.requestHeaders.hasHeader(b"authorization"):
            return self.withoutAdmin
        if self.apiToken is not None and self.apiToken(request):
            return HealthVisibility.EVERYTHING
        if self.gate is None:
            return self.withoutAdmin
        verdict = self.gate.check(request, None)
        if isinstance(verdict, Deferred):
            return verdict.addCallback(self._of)
        return self._of(verdict)

    def _of(self, verdict: Verdict) -> HealthVisibility:
        if isinstance(verdict, Principal) and verdict.admin:
            return HealthVisibility.EVERYTHING
        return self.withoutAdmin


def livenessBody() -> dict[str, Any]:
    """The body of C{/health} to a caller who sees liveness only."""
    return {"status": "ok", "detail": HealthVisibility.LIVENESS.value, "hint": LIVENESS_HINT}


Answer = Callable[[IRequest, HealthVisibility], bytes]


def _answer(
    request: IRequest, shown: HealthVisibility | Deferred[HealthVisibility], answer: Answer
) -> bytes | int:
    """C{answer} for C{shown}, now or once it is known (nothing if the
    client went away meanwhile)."""
    if not isinstance(shown, Deferred):
        return answer(request, shown)
    gone: list[bool] = []
    request.notifyFinish().addErrback(  # type: ignore[attr-defined]
        lambda _: gone.append(True)
    )

    def decided(result: HealthVisibility) -> None:
        if not (gone or getattr(request, "finished", False)):
            request.write(answer(request, result))
            request.finish()

    def failed(reason: Failure) -> None:
        _log.failure("deciding what {path} shows failed", reason, path=request.path)
        if not (gone or getattr(request, "finished", False)):
            request.write(
                errorReply(
                    request,
                    500,
                    jsonrpc.INTERNAL_ERROR,
                    "internal error in the gateway; see its log",
                )
            )
            request.finish()

    shown.addCallbacks(decided, failed)
    return NOT_DONE_YET


class Health(Resource):
    """C{GET /health}: polled often (by C{mcpgateway start}, by monitors); no Klein.

    Open to all; what it shows is L{ProbeAccess}'s to decide."""

    isLeaf = True

    def __init__(
        self,
        gateway: Gateway,
        team: TeamServices,
        loopbackOnly: bool = True,
        apiToken: Callable[[IRequest], bool] | None = None,
        door: Door | None = None,
        config: Callable[[], ConfigProblems] | None = None,
        approvals: Callable[[], HeldCalls | None] | None = None,
    ) -> None:
        """
        @param door: the front door of a gateway that authenticates no one,
            whose refusals the body shows (C{door}; C{None}: no door).
        @param config: what the config holds that the gateway cannot use,
            which the body shows (C{config}; C{None}: nothing to show).
        @param approvals: the gateway's held calls, C{None} while nothing
            made them: the body counts those waiting for a person's yes
            (C{"approvals"}; C{None}: a gateway that holds none).
        """
        super().__init__()
        self._gateway = gateway
        self._team = team
        self._door = door
        self._config = config
        self._approvals = approvals
        self.access = ProbeAccess(team.gate, loopbackOnly, team.publicHealth, apiToken)

    def render(self, request: IRequest) -> bytes | int:
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return errorReply(
                request, 405, jsonrpc.INVALID_REQUEST, "only GET is allowed on /health"
            )
        return _answer(request, self.access.shown(request), self._body)

    def _body(self, request: IRequest, shown: HealthVisibility) -> bytes:
        if shown is HealthVisibility.LIVENESS:
            return jsonReply(request, 200, livenessBody())
        from mcpgateway.report.health import healthBody, visitingSessions  # at the first /health

        status = self._gateway.readModel.status(rows=False)
        cluster = self._team.cluster
        line = None if cluster is None else cluster.line(visitingSessions(status))
        body = healthBody(
            status,
            self._team.authLine(),
            line,
            self._gateway.aggregateSide.status(),
            shown is HealthVisibility.EVERYTHING,
            getattr(self._gateway.spawner.confiner, "networkStatus", None),
            None if self._config is None else self._config(),
        )
        if self._door is not None:
            body["door"] = self._door.health()
        if self._approvals is not None:
            body["approvals"] = heldLine(self._approvals())
        limits = self._team.callQuotas
        section = None
        if limits is not None:  # configured call limits: their module is loaded
            from mcpgateway.governance.quotagate import healthSection

            section = healthSection(limits)
        if section is not None and shown is HealthVisibility.EVERYTHING:
            body["limits"] = section
        policy = self._team.requestPolicy
        if policy is not None and shown is HealthVisibility.EVERYTHING:
            body["policy"] = policy.health()
        kept = getattr(self._gateway.spawner.adoptions, "report", None)
        if kept is not None and shown is HealthVisibility.EVERYTHING:
            body["restart"] = kept()  # the children a restart kept (mcpgateway.ops.childhandover)
        return jsonReply(request, 200, body)


def heldLine(calls: HeldCalls | None) -> dict[str, int]:
    """C{/health}'s C{"approvals"}: how many calls wait for a person's yes
    (docs/guide/flow.md), a count only; C{calls} is C{None} while nothing
    held one, and reading it then loads nothing."""
    return {"pending": 0 if calls is None else len(calls.pending())}


class MetricsDoor(Resource):
    """C{/metrics} of a gateway that requires tokens: the management app's
    metrics to a caller who may see the figures, L{LIVENESS_METRICS} to
    any other. Another method than GET is the management app's to answer."""

    isLeaf = True

    def __init__(self, inner: Callable[[], IResource], access: ProbeAccess) -> None:
        super().__init__()
        self._inner = inner
        self._access = access

    def render(self, request: IRequest) -> bytes | int:
        if request.method not in (b"GET", b"HEAD"):
            return self._inner().render(request)  # type: ignore[no-any-return]
        return _answer(request, self._access.shown(request), self._body)

    def _body(self, request: IRequest, shown: HealthVisibility) -> bytes:
        if shown is not HealthVisibility.LIVENESS:
            return self._inner().render(request)  # type: ignore[no-any-return]
        from mcpgateway.report.metrics import CONTENT_TYPE

        request.setResponseCode(200)
        request.setHeader(b"content-type", CONTENT_TYPE)
        return LIVENESS_METRICS
