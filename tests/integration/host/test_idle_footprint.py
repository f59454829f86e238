"""The gateway loads what it serves with, and the rest on first use (idle RSS).

A real gateway, run as C{twist mcpgateway} and as C{mcpgateway start} runs it
(L{mcpgateway.launch}, under the interpreter's flags), each started by a
three-line wrapper that writes the names in C{sys.modules} to a file on
C{SIGUSR1}, serving one stdio server:
once it listens, and again after an MCP session on that server (initialize,
a call, its GET stream), none of the modules that only a feature it was not
asked for needs is loaded; after C{mcpgateway status}'s reads and the status
page, only those pages are (no team, cluster, remote-server or Klein
module). No memory figure is asserted: the module list is the cause, and it
does not depend on the machine.
"""

from __future__ import annotations

import json
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

from mcpgateway.runtime import interpreter
from tests.integration.gateway import RunningGateway, callEcho, waitFor, writeConfig
from tests.support.startup.laptop import UNLOADED_ON_A_LAPTOP

pytestmark = pytest.mark.integration

DUMP = """
import json, os, signal, sys

def dump(*_):
    out = os.environ["MCPGATEWAY_TEST_MODULES"]
    names = sorted(name for name, module in list(sys.modules.items()) if module is not None)
    with open(out + ".tmp", "w") as f:
        json.dump(names, f)
    os.replace(out + ".tmp", out)

signal.signal(signal.SIGUSR1, dump)
"""

TWIST = """
from twisted.application.twist._twist import Twist
Twist.main(["twist", *sys.argv[1:]])
"""

START = """
from mcpgateway.launch import twistd
sys.argv[0] = "twistd"
twistd()
"""

RUNNERS = {"twist": DUMP + TWIST, "start": DUMP + START}
"""Each runner's wrapper: the dump, then the runner."""


def runnerCommand(runner: str) -> list[str]:
    """The wrapper of C{runner} as the runner is started: C{twist} plainly,
    C{start} as C{mcpgateway start} runs L{mcpgateway.launch}."""
    if runner == "twist":
        return [sys.executable, "-c", RUNNERS[runner], "--log-format=text", "mcpgateway"]
    return [
        *interpreter.command("-c", RUNNERS[runner]),
        *("-n", "--pidfile=", "--logfile=-", "mcpgateway"),
    ]


LOADED_ON_FIRST_USE = {
    "sqlite3": "the aggregate's tool search index (core/aggregate/search.py)",
    "dotenv": "a server's .env file (config/envfiles.py)",
    "mcpgateway.core.era2026.child": "a child that speaks MCP 2026-07-28 (core/upstream.py)",
    "mcpgateway.core.era2026.reversebridge": (
        "a child that speaks MCP 2026-07-28 (core/era2026/child.py)"
    ),
    "mcpgateway.core.pools.keyedplacement": (
        "a server with routes, credentials or per-user children"
    ),
    "twisted.web._template_util": "Twisted's error pages (mcpgateway/runtime/lazyimport.py)",
    "mcpgateway.web.pages.statuspage": "the status page at / (web/app.py)",
    "hyperlink": "Twisted's error pages and redirects (mcpgateway/runtime/lazyimport.py)",
    "xml.sax": "Twisted's templates (mcpgateway/runtime/lazyimport.py)",
    "klein": "the management API (/api/v1)",
    "werkzeug": "the management API (/api/v1)",
    "mcpgateway.web.admin.api": "the management API (/api/v1)",
    "mcpgateway.flow.held": "a call held for a person's yes, or /api/v1/approvals",
    "mcpgateway.web.pages.reports": "GET /sessions, GET /metrics (web/pages/reports.py)",
    "mcpgateway.web.admin.sessionends": "the session DELETEs (web/admin/sessionends.py)",
    "jsonschema": "the aggregate's argument and output-schema checks",
    "cryptography": "a cluster's sealed session ids",
    "mcpgateway.cluster": "--cluster-key-file (startup/cluster.py)",
    "mcpgateway.auth": (
        "a team's --auth-tokens or --oauth-issuer (startup/team.py),"
        " a management API token refused (web/admin/api.py)"
    ),
    "mcpgateway.governance": (
        "--policy (startup/policywiring.py), a call limit in the config"
        " (startup/configuredlimits.py)"
    ),
    "mcpgateway.remote": "a server entry with a url, a team's door (startup/remotewiring.py)",
    "mcpgateway.clientconfigs": (
        "--rewrite-config, or the clients' files put back when another account holds the"
        " port (startup/wiring.py)"
    ),
    "mcpgateway.registry": "--self-service's server, a process of its own",
    "mcpgateway.selfservice": "--self-service's server, a process of its own",
    "mcpgateway.bridge": "mcpgateway bridge, a program of its own",
    "OpenSSL": "a TLS endpoint",
    "opentelemetry": "--otel",
    "mcpgateway.ops.otel": "--otel",
    "twisted.conch": "--manhole",
    "mcpgateway.ops.manhole": "--manhole",
    "mcpgateway.core.aggregate.aggregator": "the aggregate endpoint /mcp (core/gateway/gateway.py)",
    "mcpgateway.core.aggregate.tools": "the aggregate's own tools (core/gateway/gateway.py)",
    "mcpgateway.core.aggregate.search": "the aggregate's search tool",
    "mcpgateway.core.aggregate.shield": "the aggregate's result shield",
    "mcpgateway.core.aggregate.results": "the aggregate's kept results",
    "mcpgateway.core.aggregate.schemas": "the aggregate's schema checks",
    "mcpgateway.core.aggregate.view": "the aggregate's views",
    "mcpgateway.core.aggregate.naming": "the aggregate's names, aggregate.json's name settings",
    "mcpgateway.core.aggregate.requesthandlers": "the aggregate's member requests",
    "mcpgateway.core.aggregate.taskrequests": "the aggregate's tasks",
    "mcpgateway.core.aggregate.reprobes": "the aggregate's catalog following",
    "mcpgateway.core.aggregate.calls": "the aggregate's answers",
    "mcpgateway.core.aggregate.session": "an aggregate session",
    "mcpgateway.core.era2026.translate": "a child that speaks MCP 2026-07-28 (core/upstream.py)",
    "mcpgateway.config.wrappers": "a server run through npx or uvx (startup/wiring.py)",
    "mcpgateway.config.resolve": "a server run through npx or uvx (tap.py)",
    "mcpgateway.config.resolvecache": "a server run through npx or uvx (tap.py)",
    "mcpgateway.ops.management": "the management API (/api/v1)",
    "mcpgateway.ops.audit": "a team's --audit-log (startup/team.py)",
    "mcpgateway.ops.auditchain": "a team's --audit-log (ops/audit.py)",
    **UNLOADED_ON_A_LAPTOP,
}
"""Module (or package) -> what loads it; none of them is loaded here."""

LOADED_AFTER_IDLE = {
    "orjson": "the first JSON-RPC message (mcpgateway/protocol/jsonrpc.py)",
    "httptools": "the first request's bytes (mcpgateway/tuned/httpreader.py)",
}
"""Module -> what loads it: not loaded while the gateway is idle (a plain
session loads it)."""
LOADED_WITH_THE_WARDEN = {
    "twisted.python.sendmsg": "the warden's link is a UNIX socket pair, which carries the"
    " children's pipes (--adopt-grace, mcpgateway/ops/warden.py)",
    "twisted.internet._multicast": "the warden's UNIX socket pair (twisted.internet.unix"
    " imports it)",
}
"""Module -> why: loaded once the warden runs, which a gateway whose
sandbox is probed (the default C{--sandbox auto}) starts with the probe
(mcpgateway/sandbox/detect.py), and any other with its first child."""


def loaded(gateway: RunningGateway, out: Path) -> set[str]:
    """The modules the gateway process holds now."""
    out.unlink(missing_ok=True)
    gateway.process.send_signal(signal.SIGUSR1)
    assert waitFor(out.exists, timeout=10), gateway.text()
    return set(json.loads(out.read_text()))


def unexpected(modules: set[str]) -> dict[str, str]:
    """The modules of L{LOADED_ON_FIRST_USE} (or their submodules) in C{modules}."""
    return {
        name: why
        for name, why in LOADED_ON_FIRST_USE.items()
        if any(m == name or m.startswith(name + ".") for m in modules)
    }


@pytest.mark.usefixtures("defaultTwisted")  # what the default loads
@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_an_idle_gateway_and_a_plain_session_load_no_feature_they_do_not_use(
    home: Path, runner: str
) -> None:
    config = writeConfig(
        home / "servers.json",
        {"demo": {"command": sys.executable, "args": ["-m", "mcpgateway.demo"]}},
    )
    out = home / "modules.json"
    gateway = RunningGateway(
        ["--config", str(config)],
        home,
        command=runnerCommand(runner),
        env={"MCPGATEWAY_TEST_MODULES": str(out)},
    )
    try:
        idle = loaded(gateway, out)
        # The dump is the gateway's own: what serves /<server>/mcp is there.
        assert {"mcpgateway.core.gateway", "mcpgateway.web.app", "twisted.web.server"} <= idle
        assert unexpected(idle) == {}
        assert {name for name in LOADED_AFTER_IDLE if name in idle} == set()

        assert gateway.health()["servers"]
        assert callEcho(gateway.url("demo"), "footprint") == "footprint"
        served = loaded(gateway, out)
        assert "mcpgateway.core.pools.shared" in served
        assert "httptools" in served  # what read the requests
        assert set(LOADED_WITH_THE_WARDEN) <= served  # its child's warden, if not its probe's
        assert unexpected(served) == {}

        # What `mcpgateway status` and a Prometheus scrape ask: no Klein.
        for path in ("/sessions", "/metrics"):
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}{path}", timeout=10) as r:
                assert r.status == 200
        asked = loaded(gateway, out)
        assert "mcpgateway.web.pages.reports" in asked
        assert {"klein", "werkzeug"} & {m.split(".")[0] for m in asked} == set()

        # What a person looks at: the status page, no management API behind it.
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/", timeout=10) as r:
            assert r.status == 200
        looked = loaded(gateway, out)
        pages = {"mcpgateway.web.pages.statuspage", "mcpgateway.web.pages.reports"}
        assert set(unexpected(looked)) == pages  # no team, remote or Klein module
    finally:
        gateway.stop()
