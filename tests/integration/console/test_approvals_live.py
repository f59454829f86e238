"""A held call allowed in the console, for real: a real gateway (the
README's C{twistd -n mcpgateway}, serving the demo server as a web
reader, a file reader and a poster), the Python SDK's 2026-07-28 client
taking tasks, and headless Chromium on the gateway's own console.

The client reads the web and a file, then posts: the gateway holds the
post and answers it with a task, C{working}. A person opens the console's
Held calls page, sees the call with the labels that held it and its exact
arguments, and allows it; the client, polling its task, gets the post's
real result, and the held call is used."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.gateway import RunningGateway, writeConfig
from tests.support.integration.approvals import TRIFECTA, PolledTasks, chain, cli, heldNow
from tests.support.integration.status_page import browser, chromiumOrSkip  # noqa: F401

pytestmark = pytest.mark.integration


def test_a_call_held_as_a_task_is_allowed_in_the_console(
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    chromiumOrSkip()
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    tasks = PolledTasks()
    answer: dict[str, Any] = {}

    def client() -> None:
        try:
            answer["text"] = anyio.run(chain, gateway, "2026-07-28", [tasks])
        except BaseException as e:  # reported by the test's thread
            answer["error"] = e

    running = threading.Thread(target=client, daemon=True)
    page = None
    try:
        running.start()
        deadline = time.monotonic() + 60
        while not ("working" in tasks.seen and heldNow(tmp_path)):
            assert time.monotonic() < deadline and running.is_alive(), (answer, gateway.text())
            time.sleep(0.2)
        [held] = heldNow(tmp_path)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{gateway.port}/status/approvals")
        item = page.locator(f'li[data-call="{held["id"]}"]')
        summary = item.locator("summary")
        assert "post" in summary.inner_text() and "echo" in summary.inner_text()
        for label in ("untrusted", "private", "egress"):
            assert label in summary.inner_text()
        summary.click()
        assert json.loads(item.locator("pre.arguments").inner_text()) == {"message": "send it"}
        assert "text" not in answer  # the client still waits on its task
        item.get_by_role("button", name="Allow").click()
        page.wait_for_function(
            "() => document.getElementById('note').textContent.startsWith('allowed')"
        )
        running.join(60)
        assert "error" not in answer, answer.get("error")
        assert "send it" in answer["text"]
        assert tasks.seen[0] == "working" and tasks.seen[-1] == "completed", tasks.seen
        shown = json.loads(cli(tmp_path, "approvals", "show", held["id"], "--json").stdout)
        assert shown["state"] == "used"
    finally:
        if page is not None:
            page.close()
        gateway.stop()
        running.join(10)
