"""A call the flow rule holds, through a real gateway: the Python SDK's
client reads from an C{untrusted} server and a C{private} one, then calls
an C{egress} one (with the 2025 handshake, or in the 2026-07-28 revision,
its client known by its C{clientInfo}); the call waits while a person runs C{mcpgateway
approvals allow}, and the client gets the real result; a 2026-07-28
client that takes tasks gets a task at once, C{working} until the person's
yes, then C{completed} with the real result; and a policy file's
C{@approval} forbid, with the default rule off, holds the call alike; a
TypeScript SDK client reads the denial of a call held past a request's
wait before its own timeout; a call held when the gateway stops is
answered with its denial; and while a call waits, C{mcpgateway status}
and C{doctor} say so."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcpgateway.flow.step import DENIAL_KEY
from tests.integration.continuitykit import TsSession, tsEnvironment
from tests.integration.gateway import RunningGateway, waitFor, writeConfig
from tests.support.governance.policy import ASK_AFTER_UNTRUSTED
from tests.support.integration.approvals import (
    TRIFECTA,
    PolledTasks,
    WebhookReceiver,
    allowFirstHeld,
    chain,
    cli,
    heldNow,
)

pytestmark = pytest.mark.integration

SENT = {"message": "send it"}


async def trifecta(
    gateway: RunningGateway, home: Path, mode: str = "legacy", tasks: PolledTasks | None = None
) -> tuple[str, dict[str, Any]]:
    """One client's L{chain}, its post allowed with the CLI while it waits
    (a client that takes tasks, C{tasks}: once it saw its task
    C{working}): the post's text, and the held call as the list showed it."""
    held: dict[str, Any] = {}

    async def person() -> None:
        while tasks is not None and "working" not in tasks.seen:
            await anyio.sleep(0.05)
        deadline = time.monotonic() + 50
        held.update(await anyio.to_thread.run_sync(allowFirstHeld, home, deadline))

    text = await chain(gateway, mode, [] if tasks is None else [tasks], person)
    return text, held


def heldChain(
    gateway: RunningGateway, home: Path, mode: str = "legacy", tasks: PolledTasks | None = None
) -> tuple[str, dict[str, Any]]:
    """L{trifecta}, run; the gateway's log printed when it fails."""
    try:
        return anyio.run(trifecta, gateway, home, mode, tasks)
    except BaseException:
        print(gateway.text())
        raise


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_held_call_allowed_with_the_cli_gets_its_real_result(tmp_path: Path, mode: str) -> None:
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    try:
        text, held = heldChain(gateway, tmp_path, mode)
        assert "send it" in text
        assert (held["server"], held["tool"]) == ("post", "echo")
        assert held["labels"] == ["untrusted", "private", "egress"]
        # A 2026 client opens no session: it is known by its clientInfo's name.
        assert held["client"]["kind"] == ("pid" if mode == "legacy" else "client"), held
        decided = json.loads(cli(tmp_path, "approvals", "show", held["id"], "--json").stdout)
        assert decided["state"] == "used"
    finally:
        gateway.stop()


def test_a_held_call_of_a_tasks_client_is_a_task_a_person_allows(tmp_path: Path) -> None:
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    webhook = WebhookReceiver()
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "servers.json").write_text(json.dumps({"flow": {"webhook": webhook.url}}))
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    tasks = PolledTasks()
    try:
        text, held = heldChain(gateway, tmp_path, "2026-07-28", tasks)
        assert "send it" in text
        assert held["labels"] == ["untrusted", "private", "egress"]
        assert tasks.seen[0] == "working" and tasks.seen[-1] == "completed", tasks.seen
        decided = json.loads(cli(tmp_path, "approvals", "show", held["id"], "--json").stdout)
        assert decided["state"] == "used"
        # The webhook was told of the held call, once, without its arguments.
        assert waitFor(lambda: webhook.bodies, timeout=10), gateway.text()[-2000:]
        [told] = webhook.bodies
        assert told["call"]["id"] == held["id"] and told["event"] == "held"
        assert "send it" not in json.dumps(told)
        assert "SECRET" not in gateway.text()  # the log names the webhook's host only
    finally:
        gateway.stop()
        webhook.close()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_policys_approval_holds_a_call_a_person_allows(tmp_path: Path, mode: str) -> None:
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    policy = tmp_path / "team.cedar"
    policy.write_text(ASK_AFTER_UNTRUSTED)
    (tmp_path / "state").mkdir(exist_ok=True)
    # The default rule off: what holds the call is the policy's @approval.
    (tmp_path / "state" / "servers.json").write_text(json.dumps({"flow": {"default": False}}))
    gateway = RunningGateway(["--config", str(config), "--policy", str(policy)], tmp_path)
    try:
        text, held = heldChain(gateway, tmp_path, mode)
        assert "send it" in text
        assert (held["server"], held["tool"]) == ("post", "echo")
        assert "ask-egress-after-untrusted" in held["reason"]
        assert held["policyVersion"].startswith("cedar-")
        assert "the default rule is off" in gateway.text()
    finally:
        gateway.stop()


def test_a_typescript_client_reads_the_denial_before_its_own_timeout(tmp_path: Path) -> None:
    """The TypeScript SDK gives up on a request after 60 seconds: a call
    held longer than a request waits reaches it as the denial naming the
    held call, and the same call sent again after a person's yes runs."""
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    client = TsSession("ts1", f"http://127.0.0.1:{gateway.port}/mcp", tsEnvironment())
    try:
        for tool in ("web__echo", "files__echo"):
            assert client.call(tool, {"message": "read"})["ok"]
        started = time.monotonic()
        # 60000 ms: the SDK's own default (DEFAULT_REQUEST_TIMEOUT_MSEC).
        asked = client.send("call", name="post__echo", arguments=SENT, timeoutMs=60_000)
        held = client.answer(asked, timeout=90)
        assert held["ok"], f"{held}\n{client.diagnostics()}"  # not -32001 "Request timed out"
        assert time.monotonic() - started < 60
        envelope = held["result"]["_meta"][DENIAL_KEY]
        assert held["result"]["isError"] and envelope["outcome"] == "held"
        assert envelope["heldCall"] in held["result"]["content"][0]["text"]
        assert cli(tmp_path, "approvals", "allow", envelope["heldCall"]).returncode == 0
        again = client.call("post__echo", SENT)
        assert again["ok"] and again["result"]["content"][0]["text"] == "send it"
        assert client.errors() == []  # no answer came after the client gave up
    finally:
        client.close()
        gateway.stop()


def test_status_and_doctor_say_a_call_waits_for_a_yes(tmp_path: Path) -> None:
    """While a call waits for a person, C{status} says so under its config
    line and C{doctor} has it as an item for the user (no failure); once
    allowed, neither says it."""
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    gateway = RunningGateway(["--config", str(config)], tmp_path)
    said: dict[str, Any] = {}
    waits = "1 call waits for your yes: `mcpgateway approvals list`"

    def look() -> None:
        deadline = time.monotonic() + 50
        while not heldNow(tmp_path):
            assert time.monotonic() < deadline, "no call was held"
            time.sleep(0.2)
        said["status"] = cli(tmp_path, "status")
        said["doctor"] = cli(tmp_path, "doctor")
        allowFirstHeld(tmp_path, deadline)

    async def person() -> None:
        await anyio.to_thread.run_sync(look)

    try:
        text = anyio.run(chain, gateway, "legacy", (), person)
        assert "send it" in text
        status, doctor = said["status"], said["doctor"]
        assert f"  ! {waits}" in status.stdout.splitlines(), status.stdout + status.stderr
        assert f"  ○ {waits}" in doctor.stdout.splitlines(), doctor.stdout  # no ✗: a person's
        after = cli(tmp_path, "status")
        assert "yes" not in after.stdout, after.stdout
    except BaseException:
        print(gateway.text())
        raise
    finally:
        gateway.stop()


def test_a_held_call_is_answered_with_its_denial_when_the_gateway_stops(tmp_path: Path) -> None:
    """SIGTERM (a container's restart) while a call waits for a person: the
    person can no longer decide it in this process, and its client is told
    so in the call's answer, not left with a broken stream."""
    config = writeConfig(tmp_path / "servers.json", TRIFECTA)
    gateway = RunningGateway(["--config", str(config)], tmp_path)

    async def person() -> None:
        deadline = time.monotonic() + 50
        while not await anyio.to_thread.run_sync(heldNow, tmp_path):
            assert time.monotonic() < deadline, "no call was held"
            await anyio.sleep(0.2)
        gateway.process.send_signal(signal.SIGTERM)

    try:
        text = anyio.run(chain, gateway, "legacy", (), person)
        assert "The gateway stopped before a person decided it" in text, text
        assert "Call again" in text
        gateway.process.wait(timeout=60)
    finally:
        gateway.stop()
