# -*- test-case-name: tests.report.test_metrics -*-
"""The Prometheus text exposition format (version 0.0.4), written directly.

C{# HELP} and C{# TYPE} before each family's samples, label values escaped
(backslash, double quote, newline), help text escaped (backslash, newline),
integers written as integers, C{+Inf}/C{-Inf}/C{NaN} as Prometheus spells
them. The gateway writes these few lines itself rather than through
C{prometheus_client}: its output is pinned byte for byte
(C{tests/golden/}), which the library's (C{1.0} for 1, C{_created} series)
would change, and a scrape then needs no registry of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

Labels = tuple[tuple[str, str], ...]


class MetricFamily:
    """One metric family: its C{# HELP} and C{# TYPE} lines and its samples."""

    __slots__ = ("help", "kind", "lines", "name")

    def __init__(self, name: str, kind: str, help: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.lines: list[str] = []

    def add(self, labels: Labels, value: float, suffix: str = "") -> None:
        """One sample: C{<name><suffix>{labels} value}."""
        self.lines.append(f"{self.name}{suffix}{formatLabels(labels)} {formatValue(value)}")

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {escapeHelp(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self.lines


def formatLabels(labels: Labels) -> str:
    """C{{key="value",...}}, or nothing for no labels."""
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escapeLabel(value)}"' for key, value in labels) + "}"


def escapeLabel(value: str) -> str:
    """A label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escapeHelp(text: str) -> str:
    """Help text: backslash and newline escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def formatValue(value: float) -> str:
    """A sample value (or C{le} bound) as Prometheus writes it: integers as
    such, C{+Inf}, C{-Inf}, C{NaN}, other floats in their shortest form."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)
