# -*- test-case-name: tests.web.admin.test_api_audit,tests.web.admin.test_api_selfservice,tests.web.admin.test_sessions_api -*-
"""Who changes the gateway through C{/api/v1}, and the audit record of
each change, for L{mcpgateway.web.admin.api.ApiApp}.

A change (adding, removing, enabling, disabling, editing, restarting a
server, resetting its circuit, sharing its children again, approving or
forgetting its pins) is made by one of: an admin principal (a team
gateway's door let it in; named by its key, never its name or token), the
holder of the C{--api-token}, the C{--self-service} server's token, or the
gateway's owner (a loopback gateway without a token). L{ChangeRecords.who}
says which, for the change's log line; L{ChangeRecords.run} makes the
change and, on a gateway with an audit log (C{--audit-log}), writes one
record of it when it ends: its C{method} the change (C{servers/add},
C{servers/remove}, C{servers/change}, C{servers/restart},
C{servers/reset-circuit}, C{servers/share}, C{pins/approve},
C{pins/forget}, and C{sessions/end} for a session DELETE), its C{server}
the server (a session DELETE's: the ended sessions' servers), its C{principal} the admin's
key (C{""} for any other), its C{via} how the caller was let in (the
principal's C{token} or C{oauth}, C{api-token}, C{self-service},
C{none}), C{outcome} C{ok} or, with the API's status, C{error}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from mcpgateway.ops.management import ManagementError
from mcpgateway.runtime import logs
from mcpgateway.web.plumbing.requestcontext import contextOf

if TYPE_CHECKING:
    from mcpgateway.ops.audit import AuditSink  # loaded with --audit-log

T = TypeVar("T")

MAX_SERVER = 64
"""The characters of a server's name a record keeps at most."""

_log = Logger(observer=logs.observer, namespace="mcpgateway.web.admin.api")


class ChangeRecords:
    """Names who makes each change, and audits it (see the module)."""

    def __init__(self, audit: AuditSink | None, clock: IReactorTime, apiToken: bool) -> None:
        """
        @param audit: where the records go (C{None}: no audit log, none is written).
        @param apiToken: whether the API has its own C{--api-token} (a
            caller that is neither an admin principal nor the self-service
            server then holds it).
        """
        self._audit = audit
        self._clock = clock
        self._apiToken = apiToken

    def caller(self, request: IRequest) -> tuple[str, str]:
        """Who makes C{request}'s change: its principal key (C{""}: no
        principal) and how it was let in (the audit record's C{via})."""
        context = contextOf(request)
        if context.selfService:
            return "", "self-service"
        if context.adminPrincipal and context.principalKey:
            via = getattr(context.principal, "via", None)
            return context.principalKey, via if isinstance(via, str) else "token"
        return "", "api-token" if self._apiToken else "none"

    def who(self, request: IRequest) -> dict[str, str]:
        """The fields of a change's log line that name who made it: C{by}
        (words for its text) and C{principal} (the key, C{""}: none)."""
        key, via = self.caller(request)
        if key:
            by = f"principal {key}"
        else:
            by = {
                "self-service": "the self-service server",
                "api-token": "the --api-token",
            }.get(via, "the owner")
        return {"by": by, "principal": key}

    def run(
        self,
        request: IRequest,
        action: str,
        server: Any,
        change: Callable[[], T | Deferred[T]],
    ) -> Deferred[T]:
        """Make the change C{change} (the route's reply, or a Deferred of
        it: a L{ManagementError} is its refusal) and record it once it
        ended, as C{action} on C{server}; the reply, or the failure."""
        started = self._clock.seconds()
        name = server[:MAX_SERVER] if isinstance(server, str) else "?"

        def done(reply: T) -> T:
            self._record(request, action, name, started, int(getattr(request, "code", 200)))
            return reply

        def failed(failure: Failure) -> Failure:
            error = failure.value
            status = error.status if isinstance(error, ManagementError) else 500
            self._record(request, action, name, started, status)
            return failure

        return maybeDeferred(change).addCallbacks(done, failed)

    def _record(
        self, request: IRequest, action: str, server: str, started: float, status: int
    ) -> None:
        """One audit record of the change C{request} made (or was refused:
        C{status} 400 and above)."""
        if self._audit is None:
            return
        from mcpgateway.ops.audit import AuditRecord  # an audit log is there

        principal, via = self.caller(request)
        peer = request.getClientAddress()
        try:
            self._audit.record(
                AuditRecord(
                    ts=started,
                    principal=principal,
                    session=None,
                    server=server,
                    route="global",
                    method=action,
                    tool=None,
                    outcome="ok" if status < 400 else "error",
                    code=None,
                    status=status,
                    durationMs=(self._clock.seconds() - started) * 1000.0,
                    via=via,
                    peer=getattr(peer, "host", None),
                )
            )
        except Exception:
            _log.failure("writing the audit record of an API change failed")
