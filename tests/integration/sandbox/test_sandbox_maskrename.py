"""A mask holds while the host replaces what it hides, for real, under
both mechanisms, as root and as an ordinary user.

Programs replace a file atomically: they write a new one beside it and
rename it over the old (C{passwd} does so with C{/etc/shadow}, an MCP
client with its config, the gateway with its own files). The real
launcher confines a small Python program that reads masked files (an
entry's C{denyRead}, a gateway's own files) and a masked directory in
its read-only working directory, then waits; the test renames a new file
over the masked one, puts a new directory in place of the masked one and
of the folder holding a masked file, and lets the program read again: it
must not see the new secret. Under bubblewrap the working directory is a
C{tmpfs} of its entries, so what is renamed in the host's directory
after the start is not seen (a public file replaced keeps its old
content); under Landlock, whose rules hold inodes, the new file and
directory are no inode a rule allows (a public file replaced is
refused).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpgateway.sandbox.request import LAUNCHER
from tests.integration.sandboxkit import (
    GATEWAY_STUB,
    MECHANISMS,
    Account,
    accountOrSkip,
    launcherBase,
    launcherPython,
    launcherRequest,
)

pytestmark = pytest.mark.integration

USERS = ("root", "user")
WAIT = 60.0
"""Seconds the child may take to start or to answer: a hang fails the test."""

READER = """
import json, os, sys
ws = os.getcwd()
def read(path):
    try:
        return open(path).read()
    except OSError as e:
        return "refused"
def look():
    return {name: read(os.path.join(ws, *name.split("/")))
            for name in ("token", "keys/key", "nest/deep/token", "public", "docs/notes/readme")}
print(json.dumps(look()), flush=True)
sys.stdin.readline()
print(json.dumps(look()), flush=True)
"""
"""Reads the masked file, a file in the masked directory, a masked file
in a subfolder, a public file and one of a public subfolder; waits for a
line; reads them again."""


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    made = accountOrSkip()
    yield made
    made.remove()


def replace(path: Path, text: str, owner: Account | None) -> None:
    """Write C{text} beside C{path} and rename it over C{path}, as an atomic
    writer does."""
    fresh = path.with_name(path.name + "+")
    fresh.write_text(text)
    if owner is not None:
        os.chown(fresh, owner.uid, owner.gid)
    os.rename(fresh, path)


def confinedReader(
    mechanism: str, owner: Account | None, base: Path, python: str, **fields: Any
) -> subprocess.Popen[str]:
    """L{READER} started through the real launcher (its parent a stand-in
    for the gateway), in its working directory C{base/ws}, which it may
    read (named by no argument: a folder an argument names is its to
    write)."""
    request = launcherRequest(mechanism, base, python, **fields)
    prefix = owner.prefix() if owner is not None else []
    launcher = [python, "-I", "-S", LAUNCHER, json.dumps(request), "--"]
    command = [*launcher, python, "-I", "-S", "-c", READER]
    return subprocess.Popen(
        [*prefix, python, "-I", "-S", "-c", GATEWAY_STUB, *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=base / "ws",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": request["home"]},
    )


def answer(child: subprocess.Popen[str]) -> dict[str, str]:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.wait(WAIT)
        assert child.stderr is not None
        pytest.fail(f"the child ended ({child.returncode}): {child.stderr.read()}")
    out: dict[str, str] = json.loads(line)
    return out


@pytest.mark.parametrize("masker", ["denyRead", "gatewayFiles"])
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_rename_over_a_masked_file_shows_the_running_child_nothing(
    mechanism: str, user: str, masker: str, request: pytest.FixtureRequest
) -> None:
    owner = request.getfixturevalue("account") if user == "user" else None
    python = launcherPython(owner)
    base = launcherBase(owner)
    ws = base / "ws"
    secret = "replaced-secret-" + secrets.token_hex(8)
    (ws / "token").write_text("first-secret")
    (ws / "keys").mkdir()
    (ws / "keys" / "key").write_text("first-key")
    (ws / "nest" / "deep").mkdir(parents=True)  # nest holds no mask of its own
    (ws / "nest" / "deep" / "token").write_text("first-deep")
    (ws / "public").write_text("first")
    (ws / "docs" / "notes").mkdir(parents=True)  # small: made in the tmpfs, not bound
    (ws / "docs" / "notes" / "readme").write_text("docs")
    if owner is not None:
        owner.own(ws)
    masked = [str(ws / "token"), str(ws / "keys"), str(ws / "nest" / "deep" / "token")]
    fields: dict[str, Any] = (
        {"profile": {"filesystem": {"denyRead": masked}}}
        if masker == "denyRead"
        else {"gatewayFiles": masked}
    )
    child = confinedReader(mechanism, owner, base, python, **fields)
    try:
        before = answer(child)
        replace(ws / "token", secret, owner)
        replace(ws / "public", "second", owner)
        for folder, name in (("keys", "key"), ("nest/deep", "token")):  # swapped for new ones
            (ws / folder).rename(ws / f"{folder}.old")
            (ws / folder).mkdir()
            (ws / folder / name).write_text(secret)
            if owner is not None:
                owner.own(ws / folder)
        assert child.stdin is not None
        child.stdin.write("again\n")
        child.stdin.flush()
        after = answer(child)
        assert child.wait(WAIT) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(WAIT)
        shutil.rmtree(base, ignore_errors=True)
    for seen in (before, after):
        assert seen["token"] in ("", "refused") and seen["nest/deep/token"] in ("", "refused")
        assert seen["keys/key"] == "refused"
    assert before["public"] == "first"
    assert before["docs/notes/readme"] == after["docs/notes/readme"] == "docs"
    assert secret not in json.dumps(after), (mechanism, after)
    # What the child loses: a public file replaced after its start.
    assert after["public"] == ("first" if mechanism == "bwrap" else "refused")
