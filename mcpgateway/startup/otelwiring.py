# -*- test-case-name: tests.core.test_tracing -*-
"""The OpenTelemetry export a gateway runs with C{--otel} or
C{OTEL_EXPORTER_OTLP_ENDPOINT} (L{mcpgateway.ops.otel}): the SDK is loaded
only then."""

from __future__ import annotations

import sys
from typing import Any

from mcpgateway.runtime.reactortype import IReactor
from mcpgateway.startup.process import refuse

OTEL_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""The standard variable that turns tracing on as C{--otel} does."""


def tracing(reactor: IReactor, required: bool = True) -> Any:
    """The service that exports traces and metrics (C{--otel}), from its
    C{startService} on: the OpenTelemetry SDK is imported here only, and
    its export threads start after daemonizing. When the C{otel} extra is
    not installed: with C{--otel} (C{required}), refuse in one line; with
    only C{OTEL_EXPORTER_OTLP_ENDPOINT} (set for other programs, perhaps),
    say so in one line and serve untraced (C{None})."""
    import importlib.util

    try:
        found = importlib.util.find_spec("opentelemetry.sdk") is not None
        found = found and importlib.util.find_spec("opentelemetry.exporter.otlp") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        if not required:
            sys.stderr.write(
                f"mcpgateway: {OTEL_ENDPOINT_ENV} is set but the OpenTelemetry SDK is not"
                " installed (pip install 'mcpgateway[otel]'); serving without tracing\n"
            )
            return None
        refuse(
            "--otel needs the OpenTelemetry SDK and its OTLP exporter:"
            " pip install 'mcpgateway[otel]'"
        )
    from mcpgateway.ops.otel import TracingService

    return TracingService(reactor)
