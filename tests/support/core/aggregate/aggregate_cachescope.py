"""What tests/core/aggregate/test_aggregate_cachescope.py shares with the other
tests: _Hinted."""

from __future__ import annotations

from typing import Any

from tests.core.aggregate.aggtools import Children, tool
from tests.fakes import FakeProcess
from tests.support.web.aggregate_era2026 import CompletingChildren


class HintedChildren(Children):
    """Fake children whose lists carry each server's C{hints}; the server
    C{numbered} lists one tool, C{secret}, whose description has its
    listing's number: a catalog shows whose listing it is."""

    def __init__(self, *args: Any, hints: dict[str, dict[str, Any]], numbered: str = "") -> None:
        super().__init__(*args)
        self.hints = hints
        self.numbered = numbered
        self.listings = 0

    def _answer(self, proc: FakeProcess, message: dict[str, Any]) -> None:
        server = self.serverOf(proc)
        method = message.get("method")
        if method == "tools/list" and server == self.numbered:
            self.listings += 1
            n = self.listings
            self.servers[server].tools = [tool("secret", f"Holds the secret number {n}.")]
        if method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            original = proc.reply

            def withHints(reply: dict[str, Any]) -> None:
                if isinstance(reply.get("result"), dict):
                    reply = {**reply, "result": {**reply["result"], **self.hints.get(server, {})}}
                original(reply)

            proc.reply = withHints  # type: ignore[method-assign,assignment]
            try:
                super()._answer(proc, message)
            finally:
                del proc.reply
            return
        super()._answer(proc, message)


class _Hinted(HintedChildren, CompletingChildren):
    """Completing fake children (2026-07-28 harness) with hints."""
