# -*- test-case-name: tests.flow.test_rule -*-
"""The decision for one call: L{FlowRule}, and the gateway's C{"flow"}
setting (L{FlowSettings}).

The default rule: a client that holds both C{untrusted} and C{private}
(L{mcpgateway.flow.ledger}) may not call an C{egress} tool without a
person's yes. Its call is held (L{HOLD}), with the reason naming the
labels that met; every other call is allowed (L{ALLOW}). The rule is on
unless the gateway's own file says otherwise, in one line of
C{<state-dir>/servers.json}::

    "flow": {"default": false}
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mcpgateway.flow.labels import GATHERED, NO_LABELS, Label, Labels

__all__ = [
    "ALLOW",
    "DEFAULT_SETTINGS",
    "FlowDecision",
    "FlowRule",
    "FlowSettings",
    "FlowSettingsError",
    "Verdict",
    "parseFlowSettings",
]

TRIFECTA: Labels = GATHERED | {Label.EGRESS}
"""The labels that meet in a held call."""


class Verdict(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    DENY = "deny"
    """Refused whatever a person would say (a policy's forbid that reads
    the labels: L{mcpgateway.flow.step.LabelPolicy})."""


@dataclass(frozen=True)
class FlowDecision:
    """What the rule says of one call."""

    verdict: Verdict
    met: Labels = NO_LABELS
    """The labels that met (a held call's: C{untrusted}, C{private} and
    C{egress})."""
    reason: str = ""
    """Why a call is held or denied, for the person asked and the log."""
    version: str = ""
    """The version of the rule that held it, bound into the held call's
    digest (C{""}: the default rule's)."""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @property
    def held(self) -> bool:
        return self.verdict is Verdict.HOLD


ALLOW = FlowDecision(Verdict.ALLOW)


@dataclass(frozen=True)
class FlowSettings:
    """The gateway's C{"flow"} setting."""

    default: bool = True
    """Whether the default rule holds calls."""

    webhook: str | None = None
    """A URL told of each call held (L{mcpgateway.flow.webhook}; C{None}: none)."""


DEFAULT_SETTINGS = FlowSettings()
"""The default rule on."""


class FlowSettingsError(ValueError):
    """The C{"flow"} setting cannot be used; its text says why."""


def parseFlowSettings(value: Any, where: str = "flow") -> FlowSettings:
    """A C{"flow"} object (C{None}: absent, every default), or
    L{FlowSettingsError} naming C{where} and what is wrong."""
    if value is None:
        return FlowSettings()
    if not isinstance(value, dict):
        raise FlowSettingsError(f"'{where}' must be an object, such as {{\"default\": false}}")
    known = ("default", "webhook")
    unknown = ", ".join(repr(str(key)[:40]) for key in sorted(map(str, value)) if key not in known)
    if unknown:
        raise FlowSettingsError(
            f'\'{where}\' has the unknown key(s) {unknown}: it takes "default" and "webhook"'
        )
    default = value.get("default", True)
    if not isinstance(default, bool):
        raise FlowSettingsError(f"'{where}.default' must be true or false")
    webhook = value.get("webhook")
    if webhook is not None:
        from mcpgateway.flow.webhook import checkedUrl

        try:
            webhook = checkedUrl(webhook, f"{where}.webhook")
        except ValueError as e:
            raise FlowSettingsError(str(e)) from None
    return FlowSettings(default=default, webhook=webhook)


class FlowRule:
    """Decides each call by the client's gathered labels and the tool's."""

    def __init__(self, settings: FlowSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings

    def decide(self, gathered: Labels, tool: Labels, toolName: str = "") -> FlowDecision:
        """The decision for a call of a tool labelled C{tool} (named
        C{toolName}) by a client that gathered C{gathered} (narrowed by its
        C{flowOrigin}: L{mcpgateway.flow.ledger.narrowed})."""
        if not self.settings.default or Label.EGRESS not in tool or not gathered >= GATHERED:
            return ALLOW
        named = f" {toolName!r}" if toolName else ""
        return FlowDecision(
            Verdict.HOLD,
            TRIFECTA,
            f"the client has read untrusted content and holds private data, and the tool{named}"
            " can send data out (egress)",
        )
