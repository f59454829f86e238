"""The console's plots (C{plots.js}) in headless Chromium, on a page that
serves a fixed series: the time axis ends at the clock's now however old
the last sample is, and "Sessions by client" says what the last sample
says (a client whose sessions all ended has none), marked with its time
once samples stop coming."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.web.pages import consolepage
from mcpgateway.web.pages.consolepage import renderPlots
from tests.support.integration.status_page import browser, chromiumOrSkip  # noqa: F401

pytestmark = pytest.mark.integration

ORIGIN = "http://console.test"
START = 1_800_000_000.0
"""The clock when the page opens (seconds since the epoch)."""


def series(times: list[float]) -> dict[str, Any]:
    """Two clients; the second's sessions end at the last sample."""
    return {
        "span": "hour",
        "step": 5,
        "t": times,
        "columns": {
            "client.alpha": [1 for _ in times],
            "client.beta": [2 for _ in times[:-1]] + [None],
        },
        "now": times[-1],
    }


def clockLabel(page: Any, t: float) -> str:
    """What the plots write for time C{t} (the browser's local HH:MM)."""
    return str(page.evaluate("(t) => new Date(t * 1000).toTimeString().slice(0, 5)", t))


def test_the_time_axis_and_now_move_with_the_clock(browser: Any) -> None:  # noqa: F811
    script = (Path(consolepage.__file__).parent / "assets" / "plots.js").read_text()
    html = f"<!doctype html><html><body>{renderPlots()}<script>{script}</script></body></html>"
    times = [START - 15, START - 10, START - 5, START]
    answers = {"series": 0}

    def route(request: Any) -> None:
        url = request.request.url
        if "/status/series" in url:
            answers["series"] += 1
            if answers["series"] == 1:
                request.fulfill(status=200, body=json.dumps(series(times)))
            else:  # the gateway stopped answering: no new data
                request.fulfill(status=503, body="{}")
        else:
            request.fulfill(status=200, content_type="text/html", body=html)

    page = browser.new_page()
    try:
        page.clock.install(time=START)
        page.route(f"{ORIGIN}/**", route)
        page.goto(f"{ORIGIN}/")
        figure = page.locator('figure[data-plot="clients"]')
        now = figure.locator(".now")
        page.wait_for_function(
            "() => document.querySelector('figure[data-plot=clients] .now').textContent"
            " !== 'no data yet'"
        )
        assert now.inner_text() == "now: alpha 1, beta 0"
        labels = figure.locator("svg text")
        assert clockLabel(page, START) in labels.all_text_contents()
        page.clock.run_for(120_000)  # two minutes: ticks, none with new data
        # The ticks' fetches reach the route as the browser sends them, after run_for returns.
        deadline = time.monotonic() + 30
        while answers["series"] < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert answers["series"] >= 2
        page.wait_for_function(
            "() => document.querySelector('figure[data-plot=clients] .now').textContent"
            ".startsWith('at ')"
        )
        assert clockLabel(page, START + 120) in labels.all_text_contents()
        assert now.inner_text() == f"at {clockLabel(page, START)}: alpha 1, beta 0"
    finally:
        page.close()
