"""C{mcpgateway audit key NAME}: the key a gateway names a principal by
(in its audit log, C{/sessions}, its log), made as the gateway makes it:
with the state directory's workspace key, a copy of it, or a cluster's key
file; the command never makes a key file of its own."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpgateway.config.workspaces import loadSecret
from mcpgateway.startup.cluster import ClusterWiring
from mcpgateway.startup.team import _principalKeys
from tests.cli.support import Cli


def clusterKeyFile(folder: Path, *keys: bytes) -> Path:
    """A cluster key file holding C{keys} (the first seals), mode 0600."""
    path = folder / "cluster.key"
    lines = ["# the cluster's keys", *(base64.b64encode(k).decode() for k in keys), ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def test_a_names_key_is_the_one_the_gateway_gives_it(stateDir: Path, cli: Cli) -> None:
    gatewayKey = _principalKeys(loadSecret(stateDir))  # the gateway's, at its first start
    code, out, err = cli("audit", "key", "bob", "alice@example.com")
    assert code == 0, err
    assert out.splitlines() == [
        f"bob                {gatewayKey('bob')}",
        f"alice@example.com  {gatewayKey('alice@example.com')}",
    ]
    assert f"made with the workspace key {stateDir / 'workspace.key'}" in err
    code, out, _ = cli("audit", "key", "bob", "--json")
    assert json.loads(out) == {
        "ok": True,
        "keys": [{"principal": "bob", "key": gatewayKey("bob")}],
        "keyFile": str(stateDir / "workspace.key"),
        "cluster": False,
    }


def test_a_copy_of_the_workspace_key(stateDir: Path, tmp_path: Path, cli: Cli) -> None:
    other = tmp_path / "gateway-state"
    other.mkdir()
    gatewayKey = _principalKeys(loadSecret(other))
    copy = tmp_path / "copy.key"
    copy.write_bytes((other / "workspace.key").read_bytes())
    code, out, _ = cli("audit", "key", "bob", "--workspace-key-file", str(copy))
    assert code == 0 and out.split() == ["bob", gatewayKey("bob")]
    assert not (stateDir / "workspace.key").exists()


def test_a_clusters_key_is_its_replicas(stateDir: Path, tmp_path: Path, cli: Cli) -> None:
    sealing, anchor = os.urandom(32), os.urandom(32)
    path = clusterKeyFile(tmp_path, sealing, anchor)
    replica = ClusterWiring((sealing, anchor), "r1", "127.0.0.1", 9100, False)
    gatewayKey = _principalKeys(replica.secret)
    loadSecret(stateDir)  # a workspace key there too: a cluster's replicas do not use it
    code, out, err = cli("audit", "key", "bob", "--cluster-key-file", str(path))
    assert code == 0, err
    assert out.split() == ["bob", gatewayKey("bob")]
    assert f"made with the cluster key file {path}" in err


def test_the_cluster_key_file_of_the_environment(
    stateDir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    key = os.urandom(32)
    path = clusterKeyFile(tmp_path, key)
    monkeypatch.setenv("MCPGATEWAY_CLUSTER_KEY_FILE", str(path))
    replica = ClusterWiring((key,), "r1", "127.0.0.1", 9100, False)
    code, out, _ = cli("audit", "key", "bob")
    assert code == 0 and out.split() == ["bob", _principalKeys(replica.secret)("bob")]


def test_without_the_workspace_key_it_says_so_and_makes_none(stateDir: Path, cli: Cli) -> None:
    code, out, err = cli("audit", "key", "bob")
    assert code == 1 and out == ""
    assert f"no principal key can be made: {stateDir / 'workspace.key'} is not there" in err
    assert not (stateDir / "workspace.key").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not hex\n", "does not hold 64 hex digits"),
        (b"abcd\n", "does not hold 64 hex digits"),
    ],
)
def test_an_unusable_workspace_key_is_named(
    tmp_path: Path, cli: Cli, content: bytes, words: str
) -> None:
    path = tmp_path / "copy.key"
    path.write_bytes(content)
    code, out, err = cli("audit", "key", "bob", "--workspace-key-file", str(path))
    assert (code, out) == (1, "")
    assert err == f"mcpgateway: the workspace key file {path} {words}\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("# nothing\n", ": no key in it"),
        ("bm90IGEga2V5\n", ", line 1: not the base64 of 32 bytes"),
    ],
)
def test_an_unusable_cluster_key_file_is_named(
    tmp_path: Path, cli: Cli, content: str, words: str
) -> None:
    path = tmp_path / "cluster.key"
    path.write_text(content)
    path.chmod(0o600)
    code, out, err = cli("audit", "key", "bob", "--cluster-key-file", str(path))
    assert (code, out) == (1, "")
    assert err == f"mcpgateway: cluster key file {path}{words}\n"
    path.chmod(0o644)  # as the gateway reads it: readable by its owner only
    code, _, err = cli("audit", "key", "bob", "--cluster-key-file", str(path))
    assert code == 1 and "it must be readable by its owner only (chmod 600)" in err
    missing = tmp_path / "missing.key"
    code, _, err = cli("audit", "key", "bob", "--workspace-key-file", str(missing))
    assert code == 1 and err == f"mcpgateway: --workspace-key-file {missing}: no such file\n"


def test_a_cluster_key_is_made_without_twisted(tmp_path: Path) -> None:
    path = clusterKeyFile(tmp_path, os.urandom(32))
    code = (
        "import sys; from mcpgateway.cli.main import main;"
        f" code = main(['audit', 'key', 'bob', '--cluster-key-file', {str(path)!r}]);"
        " assert code == 0, code;"
        " assert not [m for m in sys.modules if m.split('.')[0] in ('twisted', 'klein')]"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
