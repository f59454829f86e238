"""What the held calls' page tests share (tests/web/pages/test_approvalspage.py
and the browser test in tests/integration/console/): L{ApprovalsSite}, a
gateway whose console and management API answer for a store of held calls
the test fills itself."""

from __future__ import annotations

from typing import Any, cast

from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.flow.held import HeldCall, HeldCalls
from mcpgateway.flow.labels import Label
from mcpgateway.flow.ledger import ClientKey
from mcpgateway.web.admin.api import ApiApp
from mcpgateway.web.app import makeSite
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.http import Harness, spec

CLIENT: ClientKey = ("", "pid", "4242")
ARGS = {"repo": "me/site", "title": "hello"}
TRIFECTA = frozenset({Label.UNTRUSTED, Label.PRIVATE, Label.EGRESS})
REASON = "the client has read untrusted content and holds private data"
START = 1_800_000_000.0
"""The clock when the store is made (seconds since the epoch)."""


class ApprovalsSite(Harness):
    """A gateway whose console (C{/status/approvals}) and API
    (C{/api/v1/approvals}) answer for C{store}'s held calls, on the
    site's own clock; with C{api} off, the API is not mounted (the
    console has no buttons); with C{wired} off, no store is made."""

    def __init__(self, api: bool = True, wired: bool = True, token: str | None = None) -> None:
        self.reactor = FakeProcessReactor()
        self.reactor.advance(START)
        self.store = HeldCalls(self.reactor, holdSeconds=15 * 60)
        self.gateway = Gateway({"srv": spec("srv")}, fakeSpawner(self.reactor), lazyStart=False)
        approvals = (lambda: self.store) if wired else None
        app = ApiApp(cast(Any, None), self.gateway, self.reactor, token, approvals=approvals)
        self.site = makeSite(
            self.gateway,
            self.reactor,
            loopbackOnly=True,
            api=app.resource if api else None,
            approvals=approvals if wired else (lambda: None),
        )

    def hold(self, arguments: dict[str, Any] | None = None, tool: str = "create_issue") -> HeldCall:
        return self.store.hold(
            "", CLIENT, "github", tool, ARGS if arguments is None else arguments, "v1",
            TRIFECTA, REASON,
        )  # fmt: skip
