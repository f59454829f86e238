# -*- test-case-name: tests.clientconfigs.test_engine -*-
"""The command a stdio-only client's adopted entry runs: C{mcpgateway
bridge} by the absolute path of this installation's interpreter and entry
point, so the entry works whatever C{PATH} the client starts it with.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mcpgateway.runtime import paths


def defaultBridgeArgv(
    stateDir: Path | None = None, defaultStateDir: Path | None = None
) -> list[str]:
    """How a stdio-only client runs the bridge: the absolute path of the
    C{mcpgateway} executable next to this Python (else the one on C{PATH}),
    plus C{--state-dir} when the state directory is not C{defaultStateDir}.

    @param defaultStateDir: the state directory the bridge finds without
        C{--state-dir}; default C{~/.mcpgateway} itself, not
        C{$MCPGATEWAY_HOME}: a client launched from the desktop does not
        have the gateway's environment."""
    import shutil
    import sys

    candidate = Path(sys.executable).parent / "mcpgateway"
    exe = str(candidate) if candidate.is_file() else (shutil.which("mcpgateway") or str(candidate))
    argv = [os.path.abspath(exe)]
    if defaultStateDir is None:
        defaultStateDir = Path.home() / ".mcpgateway"
    if stateDir is not None and os.path.abspath(stateDir) != os.path.abspath(defaultStateDir):
        argv += ["--state-dir", os.path.abspath(stateDir)]
    return argv


def bridgeCommand(bridgeArgv: Sequence[str], port: int | None) -> list[str]:
    """The command line before the server of a bridge entry: C{bridgeArgv},
    and C{bridge --port N} when the gateway is not on the default port (a
    bridge that finds no gateway starts one, on that port)."""
    if port is None or port == paths.DEFAULT_PORT:
        return list(bridgeArgv)
    return [*bridgeArgv, "bridge", "--port", str(port)]
