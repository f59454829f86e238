"""The npx/uvx resolver (L{mcpgateway.config.resolve}) is loaded for the
first server that runs through one of them (idle RSS), and
answers as it did when it was made at start."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.config.resolve import Resolver
from mcpgateway.core.spec import ServerSpec
from mcpgateway.startup.lazyresolver import LazyResolver
from tests.fakes import FakeProcessReactor

REPO = Path(__file__).resolve().parents[2]


def serverSpec(command: str, *args: str) -> ServerSpec:
    return ServerSpec(name="s", command=command, args=args, executable=f"/usr/bin/{command}")


SPECS = [
    serverSpec("npx", "-y", "@modelcontextprotocol/server-everything"),
    serverSpec("/usr/local/bin/npx", "-p", "pkg@1.2.3", "bin", "--flag"),
    serverSpec("uvx", "mcp-server-fetch"),
    serverSpec("uvx", "--from", "pkg==1", "tool", "x"),
    serverSpec("npx", "--unknown-option", "pkg"),
    serverSpec("node", "server.js"),
    serverSpec("/bin/cat"),
    serverSpec("npx.sh", "pkg"),
]


def test_answers_as_the_resolver_does(tmp_path: Path) -> None:
    reactor = FakeProcessReactor()
    lazy = LazyResolver(tmp_path, reactor, {})
    real = Resolver(tmp_path, reactor, reactor, {})
    for spec in SPECS:
        assert lazy.wrapperOf(spec) == real.wrapperOf(spec), spec
        assert lazy.failureOf(spec) == real.failureOf(spec), spec
    plain = serverSpec("/bin/cat")
    assert lazy.resolve(plain).result is plain


def fresh(code: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_server_that_is_no_wrapper_does_not_load_the_resolver(tmp_path: Path) -> None:
    out = fresh(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from mcpgateway.core.spec import ServerSpec\n"
        "from mcpgateway.startup.lazyresolver import LazyResolver\n"
        f"lazy = LazyResolver(Path({str(tmp_path)!r}), None, {{}})\n"
        "plain = lazy.wrapperOf(ServerSpec(name='s', command='/bin/cat'))\n"
        "before = 'mcpgateway.config.resolve' in sys.modules\n"
        "npx = lazy.wrapperOf(ServerSpec(name='s', command='npx', args=('-y', 'pkg')))\n"
        "after = 'mcpgateway.config.resolve' in sys.modules\n"
        "print(json.dumps([plain, before, npx, after]))\n"
    )
    assert out == [None, False, ["npx", "pkg", []], True]


def test_the_resolver_it_makes_installs_in_the_sandbox_handed_over(tmp_path: Path) -> None:
    from mcpgateway.sandbox.confine import Sandbox
    from mcpgateway.sandbox.request import launcherCommand

    if shutil.which("npm") is None:
        pytest.skip("the resolver the gateway makes looks for npm on PATH")
    reactor = FakeProcessReactor()
    lazy = LazyResolver(tmp_path, reactor, {"HOME": "/h"})
    lazy.sandbox = Sandbox("auto", str(tmp_path), pid=lambda: 1, cwd=lambda: "/")
    lazy.resolve(serverSpec("npx", "-y", "pkg@1.0.0"))
    [(_, argv, _, _)] = reactor.spawned
    assert argv[: len(launcherCommand())] == launcherCommand()


def test_the_resolver_it_makes_is_given_the_spawners_secrets(tmp_path: Path) -> None:
    """Its installs get the values their entry's env references, as the
    children do: the secret resolver handed over is the one it uses."""
    secrets = object()
    lazy = LazyResolver(tmp_path, FakeProcessReactor(), {"HOME": "/h"})
    lazy.secrets = secrets  # type: ignore[assignment]
    assert lazy.wrapperOf(serverSpec("npx", "-y", "pkg@1.0.0")) is not None
    assert lazy._real().secrets is secrets
