"""The judge of the cluster: three real replicas behind a real HAProxy
(C{balance roundrobin}, health checks on C{/health}), one cluster key, one
tokens file, no session store (tests/integration/cluster.py).

Round robin sends most requests of a session to a replica that does not own
it; the replica forwards them to the owner its sealed session id names. With
Python and TypeScript SDK clients on a shared server:

 - 16 sessions (8 Python, 8 TypeScript): every answer reaches the session that
   asked, none re-initializes;
 - progress reaches the caller only; a child's sampling and elicitation
   requests reach the session that asked; a client's cancel reaches the child
   (on the owner) with the id the gateway gave the call;
 - a principal's session is refused to another principal on every replica
   (bob presenting alice's session id: 404, as on one gateway), and works for
   its own principal on every replica;
 - kill -9 of one replica while all 16 sessions call: every shared-server
   session goes on with the same session id (a call fails only if it was in
   flight at the kill: HAProxy closes a kept-alive client connection without
   a response then, which the Python sessions here take as that call's
   failure, as the TypeScript SDK does); a session-scoped server's session owned by the dead
   replica gets 404 and a new session works.

And the deploy examples say what these tests run: deploy/haproxy.cfg passes
C{haproxy -c} with and without its label routing commented in, and
deploy/k8s/deployment.yaml uses flags the gateway has, probes on C{/health},
and the pod IP as C{--cluster-advertise}.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.cluster import (
    HttpStatus,
    RunningCluster,
    callTool,
    haproxyCommand,
    initialize,
    now,
    post,
    sdkClient,
)
from tests.integration.continuitykit import tsEnvironment
from tests.integration.gateway import REPO, ProgressWatch, waitFor
from tests.support.integration.container import IMAGE_RUNNER
from tests.support.mcpclient import request
from tests.support.sdkcallers import notingCallbacks

pytestmark = pytest.mark.integration
TS_CLIENT = Path(__file__).parents[1] / "clients" / "ts_cluster.mjs"


PINNED = {"everything": {"share": "global"}, "demo": {"share": "global"}}
"""classification.json: server-everything asks for roots 350 ms after it starts;
with several sessions in flight then, the gateway would promote it to a child per
session (docs/guide/scopes.md), which is not what these tests are about."""


def servers(everything: list[str]) -> dict[str, Any]:
    """A shared server-everything, a session-scoped one, and the demo server."""
    return {
        "everything": {"command": everything[0], "args": everything[1:], "share": "global"},
        "solo": {"command": everything[0], "args": everything[1:], "share": "session"},
        "demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"], "share": "global"},
    }


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, everything: list[str]
) -> Iterator[RunningCluster]:
    """One cluster for the tests that leave every replica standing."""
    running = RunningCluster(
        tmp_path_factory.mktemp("cluster"), servers(everything), classification=PINNED
    )
    yield running
    running.stop()


@pytest.fixture
def fresh(tmp_path: Path, everything: list[str]) -> Iterator[RunningCluster]:
    """A cluster of its own, for a test that kills a replica."""
    running = RunningCluster(tmp_path / "cluster", servers(everything), classification=PINNED)
    yield running
    running.stop()


# -- drivers: a session that calls echo CALLS times, recording every call ----------------


class Calls:
    """One session's calls: C{(i, ok, text or error, start ms, end ms)} each,
    and the session ids its requests carried."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.records: list[tuple[int, bool, str, float, float]] = []
        self.sessionIds: set[str] = set()
        self.connected = threading.Event()
        self.done = False
        self.failure = ""

    def ok(self) -> int:
        return sum(1 for r in self.records if r[1])

    def expected(self, i: int, prefix: str) -> str:
        return f"{prefix}{self.label} call {i}"


def pythonSession(
    url: str, authorization: str, calls: Calls, count: int, pause: float, go: threading.Event
) -> None:
    """A Python SDK session in a thread of its own: C{count} echo calls once
    C{go} is set."""

    async def main() -> None:
        async with sdkClient(
            url, authorization, calls.sessionIds, disconnectFailsTheCall=True
        ) as client:
            calls.connected.set()
            await anyio.to_thread.run_sync(go.wait)
            for i in range(count):
                start = now()
                try:
                    with anyio.fail_after(30):
                        result = await client.call_tool(
                            "echo", {"message": f"{calls.label} call {i}"}
                        )
                    text = result.content[0].text  # type: ignore[union-attr]
                    calls.records.append((i, not result.is_error, text, start, now()))
                except Exception as e:  # every failure is a record
                    calls.records.append((i, False, repr(e), start, now()))
                await anyio.sleep(pause)

    try:
        anyio.run(main)
    except BaseException as e:  # reported by the test
        calls.failure = repr(e)
    calls.done = True


def typescriptSession(
    url: str, authorization: str, calls: Calls, count: int, pause: float, env: dict[str, str]
) -> subprocess.Popen[str]:
    """A TypeScript SDK session (ts_cluster.mjs); its lines fill C{calls}."""
    process = subprocess.Popen(
        ["node", str(TS_CLIENT), url, calls.label, str(count), str(int(pause * 1000))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "MCP_AUTHORIZATION": authorization},
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event.get("sessionId"):
                calls.sessionIds.add(event["sessionId"])
            if event["event"] == "connected":
                calls.connected.set()
            elif event["event"] == "call":
                text = event.get("text") if event["ok"] else event.get("error")
                calls.records.append(
                    (event["i"], event["ok"], str(text), event["start"], event["end"])
                )
        process.wait()
        if process.returncode != 0:
            assert process.stderr is not None
            calls.failure = f"exit {process.returncode}: {process.stderr.read()[-2000:]}"
        calls.done = True

    threading.Thread(target=read, daemon=True).start()
    return process


def sixteen(
    cluster: RunningCluster, server: str, count: int, pause: float
) -> tuple[list[Calls], list[Calls], list[subprocess.Popen[str]]]:
    """8 Python and 8 TypeScript sessions of alice on C{server}, connected,
    then calling all at once."""
    env = tsEnvironment()
    url, alice = cluster.url(server), cluster.authorization["alice"]
    py = [Calls(f"py{i}") for i in range(8)]
    ts = [Calls(f"ts{i}") for i in range(8)]
    go = threading.Event()
    processes = [typescriptSession(url, alice, c, count, pause, env) for c in ts]
    for c in py:
        threading.Thread(
            target=pythonSession, args=(url, alice, c, count, pause, go), daemon=True
        ).start()
    connected = waitFor(lambda: all(c.connected.is_set() or c.done for c in py + ts), 90)
    for process in processes:
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.write("go\n")
            process.stdin.flush()
    go.set()
    assert connected, [(c.label, c.failure) for c in py + ts if not c.connected.is_set()]
    return py, ts, processes


def finish(sessions: list[Calls], processes: list[subprocess.Popen[str]], timeout: float) -> None:
    try:
        assert waitFor(lambda: all(c.done for c in sessions), timeout=timeout), [
            (c.label, len(c.records)) for c in sessions if not c.done
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for c in sessions:
        assert not c.failure, (c.label, c.failure)


# -- with every replica up ---------------------------------------------------------------


def test_sixteen_python_and_typescript_sessions_through_round_robin_zero_misrouted(
    cluster: RunningCluster,
) -> None:
    calls = 10
    py, ts, processes = sixteen(cluster, "everything", calls, 0.0)
    sessions = py + ts
    finish(sessions, processes, timeout=120)
    owners: set[str] = set()
    for c in sessions:
        assert len(c.sessionIds) == 1, (c.label, c.sessionIds)  # never re-initialized
        owners.add(cluster.owner(next(iter(c.sessionIds))))
        answers = sorted((r[0], r[1], r[2]) for r in c.records)
        assert answers == [(i, True, c.expected(i, "Echo: ")) for i in range(calls)], c.label
    assert owners == set(cluster.ids)  # round robin spread the sessions over every replica
    forwarded = 0
    for replica in cluster.ids:
        health = cluster.health(replica)
        server = health["servers"]["everything"]
        assert server["children"] == 1 and server["lateReplies"] == 0, (replica, server)
        forwarded += health["cluster"]["forwarded"]
    # Most requests landed on a replica that does not own their session.
    assert forwarded > calls * len(sessions) // 3, forwarded


def test_progress_only_reaches_the_calling_session(cluster: RunningCluster) -> None:
    url, alice = cluster.url("everything"), cluster.authorization["alice"]

    watch = ProgressWatch()
    ids: set[str] = set()

    async def main() -> None:
        async with (
            sdkClient(url, alice, ids) as caller,
            sdkClient(url, alice, message_handler=watch.record) as bystander,
        ):
            await watch.run(caller, bystander)

    anyio.run(main)
    watch.check()
    assert len(ids) == 1


def test_sampling_and_elicitation_go_to_the_session_that_asked(cluster: RunningCluster) -> None:
    """A child's requests reach the session it serves, whichever replica
    the answers land on; on a shared child that one principal's sessions
    use, they reach the one session with a call in flight; on a shared child
    that two principals' sessions use they are refused (nobody is asked: the
    asker cannot be proven)."""
    alice, bob = cluster.authorization["alice"], cluster.authorization["bob"]
    asked: dict[str, list[str]] = {"a": [], "b": []}

    sampler, elicitor = notingCallbacks(lambda label, kind: asked[label].append(kind))

    async def main(server: str, other: str) -> tuple[str, str]:
        url = cluster.url(server)
        async with (
            sdkClient(
                url, alice, sampling_callback=sampler("a"), elicitation_callback=elicitor("a")
            ) as a,
            sdkClient(
                url, other, sampling_callback=sampler("b"), elicitation_callback=elicitor("b")
            ),
        ):
            texts = []
            for _ in range(3):  # round robin: the answers land on every replica
                sampled = await a.call_tool(
                    "trigger-sampling-request", {"prompt": "hi", "maxTokens": 10}
                )
                texts.append(sampled.content[0].text)  # type: ignore[union-attr]
            elicited = await a.call_tool("trigger-elicitation-request", {})
            return " ".join(texts), elicited.content[0].text  # type: ignore[union-attr]

    # A child of its own per session: what it asks is its session's.
    sampled, elicited = anyio.run(main, "solo", alice)
    assert sampled.count("answer from a") == 3
    assert "decline" in elicited.lower()
    assert asked == {"a": ["sampling"] * 3 + ["elicitation"], "b": []}

    # The pinned shared child, used by two principals' sessions: on a replica
    # whose child both sessions use, refused; on one where a's session is the
    # only one attached, a's own. Never bob's session asked for a's call.
    asked["a"].clear()
    sampled, elicited = anyio.run(main, "everything", bob)
    assert sampled.count("ambiguous") + sampled.count("answer from a") == 3, sampled
    assert asked["b"] == []
    assert len(asked["a"]) == sampled.count("answer from a") + ("decline" in elicited.lower())


def test_cancel_reaches_the_child_on_the_owner(cluster: RunningCluster) -> None:
    url, alice = cluster.url("demo"), cluster.authorization["alice"]

    def cancels(replica: str) -> list[str]:
        """The demo's "request <id> cancelled" lines in a replica's log."""
        text = cluster.replicas[replica].text()
        return [ln for ln in text.splitlines() if "[demo]" in ln and "cancelled" in ln]

    before = {r: len(cancels(r)) for r in cluster.ids}

    async def main() -> set[str]:
        ids: set[str] = set()
        async with sdkClient(url, alice, ids) as client:
            for _ in range(3):  # round robin: the cancels land on more than the owner
                with anyio.move_on_after(0.5):
                    await client.call_tool("slow", {"seconds": 3, "steps": 30})
            echo = await client.call_tool("echo", {"message": "after"})
            assert echo.content[0].text == "after"  # type: ignore[union-attr]
        return ids

    ids = anyio.run(main)
    assert len(ids) == 1
    owner = cluster.owner(next(iter(ids)))
    # The demo logs "request <id> cancelled" on stderr, which its gateway logs:
    # the child that got the call is on the owner, whichever replica the
    # notifications/cancelled landed on.
    assert waitFor(lambda: len(cancels(owner)) == before[owner] + 3, timeout=5), cluster.text()
    time.sleep(3)  # past the slow call's end: no late reply may arrive anywhere
    for replica in cluster.ids:
        demo = cluster.health(replica)["servers"]["demo"]
        assert demo["inFlight"] == 0 and demo["lateReplies"] == 0, (replica, demo)


def test_a_session_belongs_to_its_principal_on_every_replica(cluster: RunningCluster) -> None:
    alice, bob = cluster.authorization["alice"], cluster.authorization["bob"]
    for server in ("everything", "solo"):
        sid = initialize(cluster.url(server), alice)
        echo: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "x"}},
        }
        for replica in cluster.ids:
            url = cluster.replicaUrl(replica, server)
            with pytest.raises(HttpStatus) as refused:
                post(url, echo, bob, sid)
            assert refused.value.status == 404, (server, replica)
            assert b"Session not found" in refused.value.body
            # ... and alice is served on every replica (forwarded to the owner).
            answer = callTool(url, alice, sid, "echo", {"message": replica})
            assert answer["result"]["content"][0]["text"] == f"Echo: {replica}", answer
        with pytest.raises(HttpStatus) as throughLb:
            post(cluster.url(server), echo, bob, sid)
        assert throughLb.value.status == 404


def test_a_deleted_session_stays_ended_on_every_replica(cluster: RunningCluster) -> None:
    """A DELETE answered 200, then the session was rebuilt
    from its sealed id on its next request. MCP: 404 after a DELETE."""
    alice = cluster.authorization["alice"]
    for server in ("everything", "solo"):
        sid = initialize(cluster.url(server), alice)
        other = cluster.ids[-1]  # forwarded to the owner unless it is the owner
        response = request(
            cluster.replicaUrl(other, server),
            "DELETE",
            headers={"authorization": alice, "mcp-session-id": sid},
        )
        assert response.status == 200, (server, response.status)
        ping = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
        for replica in cluster.ids:
            with pytest.raises(HttpStatus) as refused:
                post(cluster.replicaUrl(replica, server), ping, alice, sid)
            assert refused.value.status == 404, (server, replica, refused.value.body)


# -- kill -9 of one replica ---------------------------------------------------------------


def test_kill_one_replica_shared_sessions_go_on_session_scoped_ones_reinitialize(
    fresh: RunningCluster,
) -> None:
    cluster, alice = fresh, fresh.authorization["alice"]
    victim = "r2"
    # A session-scoped session owned by the victim (round robin: within 3 tries).
    solo = ""
    for _ in range(6):
        solo = initialize(cluster.url("solo"), alice)
        if cluster.owner(solo) == victim:
            break
    assert cluster.owner(solo) == victim
    assert callTool(cluster.url("solo"), alice, solo, "echo", {"message": "s"})["result"]

    count, pause = 60, 0.05
    py, ts, processes = sixteen(cluster, "everything", count, pause)
    sessions = py + ts
    assert waitFor(lambda: all(c.ok() >= 8 for c in sessions), timeout=90), [
        (c.label, c.records[-1:], c.failure) for c in sessions
    ]
    # The kill takes from the signal until the process is gone (its sockets
    # closed): a call sent in that window was in flight at the kill too.
    killing = now()
    cluster.kill(victim)
    killedAt = now()
    finish(sessions, processes, timeout=180)

    owners = {c.label: cluster.owner(next(iter(c.sessionIds))) for c in sessions}
    assert victim in owners.values()  # some of the sessions that go on were the victim's
    inFlight = sum(1 for c in sessions for r in c.records if r[3] <= killedAt and r[4] >= killing)
    failed = [(c.label, r) for c in sessions for r in c.records if not r[1]]
    assert len(failed) <= inFlight, (failed, inFlight)
    for c in sessions:
        assert len(c.sessionIds) == 1, (c.label, c.sessionIds)  # no re-initialize
        assert sorted(r[0] for r in c.records) == list(range(count)), c.label
        for i, ok, text, start, _ in c.records:
            if ok:
                assert text == c.expected(i, "Echo: "), (c.label, i, text)
            else:
                assert start <= killedAt, (c.label, i, text, cluster.refusals())  # at the kill
        assert all(r[1] for r in c.records if r[3] > killedAt), c.label
    survivors = [r for r in cluster.ids if r != victim]
    # The victim's shared-server sessions went on as visitors on the survivors.
    assert sum(cluster.health(r)["cluster"]["visiting"] for r in survivors) > 0

    # The dead replica's session-scoped session is gone with its child: 404,
    # then a new session works (on a survivor).
    with pytest.raises(HttpStatus) as gone:
        callTool(cluster.url("solo"), alice, solo, "echo", {"message": "s"})
    assert gone.value.status == 404
    again = initialize(cluster.url("solo"), alice)
    assert cluster.owner(again) != victim
    answer = callTool(cluster.url("solo"), alice, again, "echo", {"message": "back"})
    assert answer["result"]["content"][0]["text"] == "Echo: back"
    assert cluster.up() == set(survivors)


# -- the deploy examples: what the tests run is what deploy/ shows ------------------------


def test_deploy_haproxy_cfg_is_valid_with_and_without_label_routing(tmp_path: Path) -> None:
    haproxy = haproxyCommand()
    cfg = REPO / "deploy" / "haproxy.cfg"
    checked = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = cfg.read_text()
    for needed in ("balance roundrobin", "option httpchk GET /health", "option redispatch"):
        assert needed in text
    # The label routing, commented in: a set-var for session ids and one for task
    # ids (Mcp-Name), and a use-server per replica.
    routed, count = re.subn(
        r"^(\s*)# ((?:http-request set-var\(|use-server ).*)$", r"\1\2", text, flags=re.M
    )
    assert count == 5 and "req.hdr(Mcp-Name)" in routed
    (tmp_path / "routed.cfg").write_text(routed)
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(tmp_path / "routed.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_kubernetes_example_uses_real_flags_probes_and_the_pod_address() -> None:
    from ruamel.yaml import YAML

    from mcpgateway.tap import Options

    k8s = REPO / "deploy" / "k8s"
    yaml = YAML(typ="safe")
    [deployment] = yaml.load_all((k8s / "deployment.yaml").read_text())
    [service] = yaml.load_all((k8s / "service.yaml").read_text())
    [secret] = yaml.load_all((k8s / "secret.yaml").read_text())
    [configmap] = yaml.load_all((k8s / "configmap.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 40
    assert pod["securityContext"]["runAsNonRoot"] is True
    [gateway] = pod["containers"]
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True
    for probe in ("readinessProbe", "livenessProbe"):
        assert gateway[probe]["httpGet"]["path"] == "/health"
    env = {e["name"]: e for e in gateway["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    args = gateway["args"]
    assert args[: len(IMAGE_RUNNER) + 1] == [*IMAGE_RUNNER, "mcpgateway"]  # as the image runs it
    known = {opt.rstrip("=") for opt in Options().longOpt}
    plugin = args[args.index("mcpgateway") + 1 :]  # twist's own options come before it
    flags = {a[2:] for a in plugin if a.startswith("--")}
    assert flags <= known, flags - known
    assert args[args.index("--cluster-advertise") + 1] == "http://$(POD_IP):9100"
    assert {"cluster-key-file", "replica-id", "auth-tokens"} <= flags
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert {"cluster.key", "tokens.json"} <= secret["data"].keys()
    assert "mcpServers" in json.loads(configmap["data"]["config.json"])
