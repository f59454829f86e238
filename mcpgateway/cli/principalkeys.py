# -*- test-case-name: tests.cli.test_principalkeys -*-
"""A principal's key, as a gateway derives it, for the commands that name
one (C{mcpgateway audit key}, C{token new}, C{token list}).

The audit log, C{/sessions}, C{/health} and the gateway's log name a
principal by its key: C{HMAC-SHA256(secret, "principal" NUL name)}, cut to
16 base32 characters (L{mcpgateway.config.workspaces.scopeKey}, the
derivation L{mcpgateway.startup.team} hands the gateway's door). The
secret is the state directory's C{workspace.key}, or, on a replica of a
cluster, the HKDF-SHA256 subkey C{"workspace-keys"} of the last key of its
C{--cluster-key-file} (the same on every replica). So a name's key can be
found, and a key confirmed, only by whoever may read that secret: the
commands read it (C{--state-dir}'s C{workspace.key}, a copy of it given by
C{--workspace-key-file}, or the cluster key file given by
C{--cluster-key-file} or C{$MCPGATEWAY_CLUSTER_KEY_FILE}, as the gateway
reads it) and never make one: a key made here would not be the gateway's.

Never loads Twisted; cryptography only for a cluster key file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcpgateway.cli.output import CliError, Parser
from mcpgateway.config.workspaces import SECRET_BYTES, scopeKey
from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE
from mcpgateway.runtime.secretfile import SecretFileError, readSecretFile

PRINCIPAL = "principal"
"""The domain of principal keys under the secret (L{scopeKey}'s C{kind})."""
CLUSTER_KEY_FILE_ENV = "MCPGATEWAY_CLUSTER_KEY_FILE"
CLUSTER_LABEL = "workspace-keys"
"""The label a cluster derives its workspace, credential and principal
keys' secret with (L{mcpgateway.cluster.keyfile.derive})."""


@dataclass(frozen=True)
class PrincipalKeys:
    """The secret principal keys are made with, and where it was read.

    @ivar secret: C{None} when there is none to read (L{missing} says why).
    @ivar source: the file it was read from (or would have been).
    @ivar cluster: whether it is a cluster's (derived from its key file).
    """

    secret: bytes | None
    source: Path
    cluster: bool = False
    missing: str | None = None

    def keyOf(self, name: str) -> str | None:
        """C{name}'s key (C{None}: no secret to make it with)."""
        if self.secret is None:
            return None
        try:
            material = name.encode("utf-8")
        except UnicodeEncodeError:
            raise CliError(f"{name!r} cannot name a principal: it is not valid text") from None
        return scopeKey(self.secret, PRINCIPAL, material)

    def describe(self) -> str:
        """The secret's file, said as a note names it."""
        what = "the cluster key file" if self.cluster else "the workspace key"
        return f"{what} {self.source}"


def addKeyOptions(parser: Parser) -> None:
    """The options that say where a gateway's principal keys' secret is
    (one at most)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--workspace-key-file",
        metavar="FILE",
        default=None,
        help="a copy of the gateway's workspace.key (default: <state-dir>/workspace.key)",
    )
    group.add_argument(
        "--cluster-key-file",
        metavar="FILE",
        default=None,
        help="a cluster's key file: its replicas derive the keys from it"
        f" (default: ${CLUSTER_KEY_FILE_ENV}, when set)",
    )


def principalKeys(
    stateDir: Path,
    workspaceKeyFile: str | None = None,
    clusterKeyFile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PrincipalKeys:
    """The secret of the gateway's principal keys: a cluster's (C{clusterKeyFile},
    else C{$MCPGATEWAY_CLUSTER_KEY_FILE}), else the workspace key
    (C{workspaceKeyFile}, else C{stateDir}'s). A file named that cannot be
    used is a L{CliError}; the state directory's workspace key not there
    yet is a L{PrincipalKeys} without a secret."""
    env = os.environ if environ is None else environ
    if workspaceKeyFile is None:
        clusterKeyFile = clusterKeyFile or env.get(CLUSTER_KEY_FILE_ENV) or None
    if clusterKeyFile:
        path = Path(clusterKeyFile).expanduser().absolute()
        return PrincipalKeys(_clusterSecret(path), path, cluster=True)
    path = Path(workspaceKeyFile or stateDir / WORKSPACE_KEY_FILE).expanduser().absolute()
    try:
        data = readSecretFile(path, 4097)
    except FileNotFoundError:
        if workspaceKeyFile:
            raise CliError(f"--workspace-key-file {path}: no such file") from None
        return PrincipalKeys(
            None,
            path,
            missing=f"{path} is not there: a gateway of this state directory makes it at its"
            " first start (--state-dir DIR names the gateway's, --workspace-key-file FILE a"
            " copy of its workspace.key)",
        )
    except SecretFileError as e:
        raise CliError(f"the workspace key file {path} {e}") from None
    try:
        secret = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise CliError(f"the workspace key file {path} does not hold {SECRET_BYTES * 2} hex digits")
    return PrincipalKeys(secret, path)


def requireKeys(keys: PrincipalKeys) -> PrincipalKeys:
    """C{keys}, which must hold a secret (else a L{CliError} saying why)."""
    if keys.secret is None:
        raise CliError(f"no principal key can be made: {keys.missing}")
    return keys


def _clusterSecret(path: Path) -> bytes:
    """The secret a cluster whose key file is C{path} makes principal keys
    with: the subkey of its last key its replicas derive
    (L{mcpgateway.startup.cluster})."""
    try:
        from mcpgateway.cluster.keyfile import ClusterKeyError, derive, loadClusterKeys
    except ImportError:
        raise CliError(
            "--cluster-key-file: a cluster's keys need cryptography: pip install 'mcpgateway[team]'"
        ) from None
    try:
        keys = loadClusterKeys(path)
    except ClusterKeyError as e:
        raise CliError(str(e)) from None
    return derive(keys[-1], CLUSTER_LABEL)
