"""Learn mode (C{"sandbox": "learn"}) with a real gateway run with
C{--sandbox auto} (docs/guide/sandbox.md, "Learning a profile"):

 - the hostile fixture, learning, reads a file of a directory in its home
   (shown read-only while it learns), fails to write another (recorded),
   cannot read the SSH key (the deny list stays), and asks the proxy for a
   local HTTP server (refused: a local address, but recorded);
 - C{mcpgateway sandbox suggest} prints that directory to read, the other
   to write, the server's address to allow, and the key as kept denied;
 - the entry given the suggested object runs confined, and the same calls
   work: the file is read, the write lands, the local server answers.

Bubblewrap and strace must work here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration import sandboxkit
from tests.integration.gateway import REPO, RunningGateway, writeConfig

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]
CLI = (sys.executable, "-m", "mcpgateway.cli")


def bwrapAndStraceOrSkip() -> None:
    sandboxkit.bwrapOrSkip()
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install strace)")


@pytest.fixture
def local() -> Iterator[int]:
    with sandboxkit.helloServer(b"hello, learner") as port:
        yield port


def suggest(home: Path, config: Path, *more: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "MCPGATEWAY_HOME": str(home / "state"),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [*CLI, "sandbox", "suggest", "hostile", "--config", str(config), *more],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_learning_server_is_given_the_profile_it_used(
    home: Path, start: Starter, local: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bwrapAndStraceOrSkip()
    sandboxkit.fakeHome(home)
    reference = home / "reference"
    reference.mkdir()
    (reference / "notes.txt").write_text("the notes")
    notes = home / "notes"
    notes.mkdir()
    workspace = tmp_path_factory.mktemp("workspace")
    entry = sandboxkit.hostileEntry(workspace)
    entry["sandbox"] = "learn"
    config = writeConfig(home / "servers.json", {"hostile": entry})
    gateway = start("--config", str(config), "--sandbox", "auto")
    url = gateway.url("hostile")

    def call(name: str, **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = sandboxkit.toolCall(url, name, arguments)
        return answer

    read = call("read", path=str(reference / "notes.txt"))
    assert read["ok"] and read["text"] == "the notes", read
    wrote = call("write", path=str(notes / "todo.md"), text="learned\n")
    assert not wrote["ok"] and "Read-only" in wrote["error"], wrote
    key = call("read", path=str(home / ".ssh" / "id_rsa"))
    assert sandboxkit.SECRET not in json.dumps(key), key
    fetched = call("fetch", url=f"http://127.0.0.1:{local}/")
    assert fetched.get("status") == 403, fetched
    assert "is learning" in gateway.text()
    gateway.stop()

    printed = suggest(home, config)
    assert printed.returncode == 0, printed.stderr
    text = printed.stdout
    assert '"~/reference"' in text, text
    assert '"~/notes"' in text, text
    assert f'"127.0.0.1:{local}"' in text, text
    assert "denied, kept denied: ~/.ssh" in text, text
    bare = suggest(home, config, "--json")
    profile = json.loads(bare.stdout)
    assert profile["filesystem"]["allowRead"] == ["~/reference"], profile
    assert profile["filesystem"]["allowWrite"] == ["~/notes"], profile
    assert profile["network"] == {"allowedDomains": [f"127.0.0.1:{local}"]}, profile
    assert not any(".ssh" in p for p in profile["filesystem"]["allowRead"])

    entry["sandbox"] = profile
    writeConfig(config, {"hostile": entry})
    confined = start("--config", str(config), "--sandbox", "auto")
    url = confined.url("hostile")
    read = call("read", path=str(reference / "notes.txt"))
    assert read["ok"] and read["text"] == "the notes", read
    wrote = call("write", path=str(notes / "todo.md"), text="kept\n")
    assert wrote["ok"], wrote
    assert (notes / "todo.md").read_text() == "kept\n"
    fetched = call("fetch", url=f"http://127.0.0.1:{local}/")
    assert fetched == {"ok": True, "status": 200, "body": "hello, learner"}, fetched
    key = call("read", path=str(home / ".ssh" / "id_rsa"))
    assert sandboxkit.SECRET not in json.dumps(key), key
