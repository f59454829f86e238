# -*- test-case-name: tests.runtime.test_paths -*-
"""Where things are: the default port, the state directory, and the name of
every file in it.

The one place these names live: the gateway (which writes the files) and the
C{mcpgateway} command (which reads them) both import them from here, so the
two can never disagree. A leaf: it imports nothing of the package.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

DEFAULT_PORT = 9100
HOME_ENV = "MCPGATEWAY_HOME"
"""Names the state directory (C{--state-dir} wins)."""
API_TOKEN_ENV = "MCPGATEWAY_API_TOKEN"
"""Holds the management API's bearer token (C{--api-token} wins)."""
AUTH_TOKENS_ENV = "MCPGATEWAY_AUTH_TOKENS"
"""The team gateway's tokens file (C{--auth-tokens}), when the option is not given."""
OAUTH_ISSUER_ENV = "MCPGATEWAY_OAUTH_ISSUER"
"""C{--oauth-issuer}, when the option is not given."""
RESOURCE_URI_ENV = "MCPGATEWAY_RESOURCE_URI"
"""C{--resource-uri}, when the option is not given."""
AUDIT_LOG_ENV = "MCPGATEWAY_AUDIT_LOG"
"""C{--audit-log}, when the option is not given."""
HANDOVER_ENV = "MCPGATEWAY_HANDOVER"
"""Set in a restart's successor's environment: what it inherits,
C{from=<pid>,listen=3,lock=4,link=5} (L{mcpgateway.ops.handover.Inherited})."""
API_PREFIX = "/api/v1"

# Files and folders of the state directory.
STATE_FILE = "state.json"
"""pid, port, start time, version, config: exists while a gateway runs."""
LOCK_FILE = "gateway.lock"
"""Held (flock) while a gateway runs."""
LEDGER_FILE = "children.json"
"""pid and start time of every running child."""
SESSIONS_FILE = "sessions.json"
"""The client sessions, so that they outlive the gateway process (mode 0600)."""
WORKSPACE_KEY_FILE = "workspace.key"
"""The secret behind workspace and credential keys (mode 0600)."""
OWNER_TOKEN_FILE = "owner.token"
"""The token a request carries where the system cannot name a connection's
account (mode 0600; L{mcpgateway.runtime.ownertoken})."""
ENV_FILE = ".env"
"""Environment for every child (the gateway's own layer; a workspace's C{.env} wins over it)."""
PROMOTIONS_FILE = "promotions.json"
"""Servers the gateway made session-scoped because their children talk back."""
SERVERS_FILE = "servers.json"
"""Servers added through the management API, per-server overrides."""
OVERRIDES_FILE = "classification.json"
"""The user's sharing and timeout overrides."""
AGGREGATE_FILE = "aggregate.json"
"""The aggregate endpoints' settings (C{/mcp}, C{/mcp/<name>}): optional, watched."""
PINS_FILE = "pins.json"
"""The pinned tools of every server definition (mode 0600; docs/guide/trust.md)."""
NPX_CACHE_FILE = "npx-cache.json"
"""What C{npx}/C{uvx} packages resolved to."""
NPX_DIR = "npx"
UVX_DIR = "uvx"
USER_BACKUP = "config-backup.json"
"""The original stdio entries of an adopted user config."""
PROJECT_BACKUPS = "project-backups"
RESTORE_FAILED = "restore-failed.json"
"""Present when the restore at stop failed: config, reason, time."""
LOG_FILE = "gateway.log"
"""The log when started by C{mcpgateway start}."""
PID_FILE = "twistd.pid"
"""twistd's pid file when started by C{mcpgateway start}."""
MANHOLE_AUTHORIZED_KEYS = "manhole_authorized_keys"
MANHOLE_HOST_KEY = "manhole_host_key"
MANHOLE_KNOWN_HOSTS = "manhole_known_hosts"


def defaultStateDir(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """C{$MCPGATEWAY_HOME}, else C{~/.mcpgateway}."""
    env = os.environ if environ is None else environ
    return env.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".mcpgateway")


def stateFile(stateDir: Path | str, name: str) -> Path:
    """The path of the state directory's file C{name} (one of this module's names)."""
    return Path(stateDir) / name


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def fileLabel(configPath: Path) -> str:
    """C{<label>-<hash>.json} for C{configPath}: its sanitized parent and
    file name (never the raw path), and a hash of its real path."""
    real = os.path.realpath(configPath)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    label = _UNSAFE.sub("_", f"{Path(real).parent.name}_{Path(real).name}").strip("_")[:48]
    return f"{label or 'config'}-{digest}.json"
