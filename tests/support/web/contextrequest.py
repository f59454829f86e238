"""A test's request that keeps its context as the gateway's requests do."""

from __future__ import annotations

from typing import Any

from twisted.python.components import Componentized
from twisted.web.iweb import IRequest
from twisted.web.test.requesthelper import DummyRequest
from zope.interface import implementer


@implementer(IRequest)
class ContextRequest(DummyRequest, Componentized):  # type: ignore[misc]  # a few IRequest names
    """Twisted's C{DummyRequest}, C{Componentized} as a real C{Request} is:
    L{mcpgateway.web.plumbing.requestcontext.contextOf} gives the same
    context for its whole life."""

    def __init__(self, postpath: list[bytes], *args: Any) -> None:
        DummyRequest.__init__(self, postpath, *args)
        Componentized.__init__(self)
