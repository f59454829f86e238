"""The service tree of a default gateway loads none of the heavy libraries
that only a feature it was not asked for needs (idle RSS).

A fresh interpreter builds the tree as C{twistd -n mcpgateway} does (the
plugin's maker, its C{RunnerOptions}, C{makeService}) on the default
options, a home of its own and one stdio server, and names the libraries of
L{DEFERRED} it holds, the team and remote packages of the gateway among
them (a laptop's gateway serves stdio servers to one user). Each is
imported where its feature is wired or first used; one imported at the
top of a module the tree loads shows up here, in the fast suite, without
a running gateway
(C{tests/integration/host/test_idle_footprint.py} checks the running one).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.runtime.fresh import demoConfig, freshJson
from tests.support.startup.laptop import UNLOADED_ON_A_LAPTOP

DEFERRED = {
    "cryptography": "a cluster's sealed session ids, the console's sign-in",
    "OpenSSL": "a TLS endpoint",
    "service_identity": "a TLS endpoint",
    "klein": "the management API (/api/v1)",
    "werkzeug": "the management API (/api/v1)",
    "jinja2": "nothing the gateway serves",
    "pydantic": "nothing the gateway serves",
    "jsonschema": "the aggregate's argument and output-schema checks",
    "opentelemetry": "--otel",
    "cedarpy": "a Cedar policy",
    "treq": "a remote server's OAuth",
    "sqlite3": "the aggregate's tool search index",
    "hyperlink": "Twisted's error pages and redirects",
    "xml": "Twisted's templates",
    "twisted.conch": "--manhole",
    "twisted.web.template": "Twisted's error pages",
    "mcpgateway.web.admin": "the management API (/api/v1)",
    "mcpgateway.flow.held": "a call held for a person's yes, /api/v1/approvals",
    "mcpgateway.web.pages.statuspage": "the status page at /",
    "mcpgateway.core.aggregate.aggregator": "the aggregate endpoint /mcp",
    "mcpgateway.auth": "a team gateway's door (--auth-tokens, --oauth-issuer)",
    "mcpgateway.cluster": "a cluster's replicas (--cluster-key-file)",
    "mcpgateway.governance": "--policy, the config's limits of calls",
    "mcpgateway.remote": "a remote server's entry, a door that holds its tokens",
    **UNLOADED_ON_A_LAPTOP,
    "mcpgateway.report.health": "the first GET /health (web/pages/liveness.py)",
}
"""Each library or module left out of a default gateway's start, and what
loads it."""

BUILD = """
import json, sys
from mcpgateway import launch
options = launch.GATEWAY.options()
options.parseOptions(sys.argv[1:])
launch.GATEWAY.makeService(options)
names = {name for name, module in list(sys.modules.items()) if module is not None}
print(json.dumps(sorted(names)))
"""


def loadedBy(tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter holds once it has built a default
    gateway's service tree serving one stdio server."""
    config = demoConfig(tmp_path)
    loaded = freshJson(
        BUILD,
        "--port",
        "9305",
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        home=tmp_path,
        cwd=tmp_path,
        timeout=120,
    )
    return set(loaded)


def test_a_default_service_tree_loads_no_heavy_library(tmp_path: Path) -> None:
    loaded = loadedBy(tmp_path)
    early = {
        name: why
        for name, why in DEFERRED.items()
        if name in loaded or any(module.startswith(name + ".") for module in loaded)
    }
    assert early == {}
