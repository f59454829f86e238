"""What a child never sees: a root gateway's own private files found by
their mode, the gateway's files the request names, and what is bound again
over a mask (a server's own package, writable)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpgateway.core.spec import EntryOrigin
from mcpgateway.sandbox import defaults, masks
from mcpgateway.sandbox import request as requests
from mcpgateway.sandbox.layout import build
from mcpgateway.sandbox.places import Places
from mcpgateway.sandbox.profile import SandboxProfile, parseSandbox
from tests.support.sandbox.layout import bound, masked, request, tree


class Spec:
    """What the request reads of a server's spec."""

    def __init__(self, name: str, command: str = "node") -> None:
        self.name = name
        self.command = command
        self.args: tuple[str, ...] = ()
        self.cwd: str | None = None
        self.mode = "global"
        self.env: tuple[tuple[str, str], ...] = ()
        self.sandbox: SandboxProfile = parseSandbox({})
        self.confinedTo: str | None = None
        self.principal = ""
        self.origin: EntryOrigin | None = None


def test_what_only_its_owner_may_read_is_found_two_levels_down(tmp_path: Path) -> None:
    root = tmp_path / "etc"
    for path in ("ssl/private", "ssl/certs", "app/conf/deeper", "open"):
        (root / path).mkdir(parents=True)
    (root / "ssl" / "private").chmod(0o700)
    (root / "shadow").write_text("x")
    (root / "shadow").chmod(0o640)
    (root / "passwd").write_text("x")
    (root / "app" / "conf" / "deeper" / "key").write_text("x")  # too deep
    (root / "app" / "conf" / "deeper" / "key").chmod(0o600)
    (root / "app" / "key").write_text("x")
    (root / "app" / "key").chmod(0o600)
    (root / "link").symlink_to(root / "shadow")
    (root / "group.lock").write_text("4242")  # useradd's, for milliseconds: passed by
    (root / "group.lock").chmod(0o600)
    uid = os.getuid()
    found = masks.privateEntries([str(root)], uid)
    assert sorted(found) == [
        (str(root / "app" / "key"), False),
        (str(root / "shadow"), False),
        (str(root / "ssl" / "private"), True),
    ]
    assert masks.privateEntries([str(root)], uid + 1) == []  # another's: the kernel keeps them
    assert len(masks.privateEntries([str(root)], uid, limit=2)) <= 2


def test_a_root_gateway_masks_its_private_system_files(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a root gateway's view: run as root (CI is)")
    tree(tmp_path)
    layout = build(request(tmp_path), ["/usr/bin/node"], {})
    private = [path for path, _ in masks.privateEntries(defaults.PRIVATE_SCAN_ROOTS, 0)]
    assert set(private) <= masked(layout)
    for secret in ("/etc/shadow", "/var/cache/debconf/passwords.dat"):
        if os.path.exists(secret):
            assert secret in masked(layout)


def test_the_request_names_the_gateways_own_files() -> None:
    asked = requests.build(
        Spec("srv"),
        {"HOME": "/h"},
        "/s",
        None,
        others=[],
        python="/usr/bin/python3",
        parent=1,
        gatewayCwd="/",
        gatewayFiles=["/etc/gw/config.json", "relative.json", "/h/.claude.json", "/etc/gw/x/../k"],
    )
    assert asked["gatewayFiles"] == ["/etc/gw/config.json", "/h/.claude.json", "/etc/gw/k"]
    bare = requests.build(
        Spec("srv"), {}, "/s", None, others=[], python="p", parent=1, gatewayCwd="/"
    )
    assert bare["gatewayFiles"] == []


def test_the_package_an_npx_server_runs_from_is_its_own_to_write(tmp_path: Path) -> None:
    """server-memory writes C{memory.jsonl} beside its own script: where
    it has no copy of its own (under a mechanism that shows none), in the
    gateway's install of it, that package alone is writable."""
    home = tree(tmp_path)
    install = home / ".mcpgateway" / "npx" / "mem"
    script = install / "node_modules/@modelcontextprotocol/server-memory/dist/index.js"
    script.parent.mkdir(parents=True)
    script.write_text("")
    (install / "node_modules" / "dep").mkdir()
    layout = build(request(tmp_path), ["/usr/bin/node", str(script)], {}, "seatbelt")
    assert layout.reopened == [
        (str(install), False),
        (str(install / "node_modules/@modelcontextprotocol/server-memory"), True),
    ]
    found = Places(str(home), str(home / ".mcpgateway"), {})
    assert masks.ownPackage(found, [str(home / "elsewhere/node_modules/x/i.js")]) is None


def test_the_package_of_a_child_that_serves_one_principal_is_read_only(tmp_path: Path) -> None:
    """The package's code runs in every child of its server: a child kept
    for one person (a C{perUser} server's) may not write there, where what
    it wrote would run, or be read, in another person's child."""
    home = tree(tmp_path)
    install = home / ".mcpgateway" / "npx" / "mem"
    script = install / "node_modules/@modelcontextprotocol/server-memory/dist/index.js"
    script.parent.mkdir(parents=True)
    script.write_text("")
    asked = request(tmp_path, servesOne=True)
    layout = build(asked, ["/usr/bin/node", str(script)], {}, "seatbelt")
    assert layout.reopened == [(str(install), False)]
    assert not any(writable for path, writable in layout.writable if path.startswith(str(install)))


def test_a_child_that_serves_one_principal_is_asked_for_as_such() -> None:
    """The request says so, and names caches of that principal's own; a
    child anyone shares is asked for as before (its caches, and what a
    kept child is compared on, unchanged)."""
    anyone, alice, bob = Spec("srv"), Spec("srv"), Spec("srv")
    alice.principal, bob.principal = "alice", "bob"

    def asked(spec: Spec) -> dict[str, object]:
        return requests.build(spec, {}, "/s", None, others=[], python="p", parent=1, gatewayCwd="/")

    assert "servesOne" not in asked(anyone) and asked(alice)["servesOne"] is True
    keys = {asked(spec)["cacheKey"] for spec in (anyone, alice, bob)}
    assert len(keys) == 3
    assert asked(anyone)["cacheKey"] == "srv-d6fdbc92bad4d99f"  # what it always was


def test_an_edit_of_its_entry_keeps_a_childs_copy_of_its_package() -> None:
    """The copy an C{npx} child writes its data in is kept for the entry's
    name, who wrote the entry, its workspace route and its person: a
    variable added, a key rotated, a newer version, another mode or a
    narrower sandbox keeps it; another person, another route or a
    project's own entry of the same name has its own."""

    def keyOf(spec: Spec) -> str:
        return requests.copyKey(spec)

    first = Spec("mem")
    edited = Spec("mem")
    edited.env = (("API_KEY", "rotated"),)
    edited.sandbox = parseSandbox({"filesystem": {"denyRead": ["~/private"]}})
    edited.mode = "session"
    edited.confinedTo = "/w"  # a project's own entry, approved or not, is the project's
    assert keyOf(edited) == keyOf(first) and keyOf(first).startswith("mem-")
    alice, route, project, other = Spec("mem"), Spec("mem"), Spec("mem"), Spec("notes")
    alice.principal = "alice"
    route.mode, route.cwd = "workspace", "/home/u/work"
    project.origin = EntryOrigin("/home/u/clone/.mcp.json", "/home/u/clone", "d1")
    keys = {keyOf(spec) for spec in (first, alice, route, project, other)}
    assert len(keys) == 5
    approved = Spec("mem")
    approved.origin = EntryOrigin("/home/u/clone/.mcp.json", "/home/u/clone", "d2")
    assert keyOf(approved) == keyOf(project)  # its entry edited, approved again
    asked = requests.build(first, {}, "/s", None, others=[], python="p", parent=1, gatewayCwd="/")
    assert asked["copyKey"] == keyOf(first) != asked["cacheKey"]


def test_an_installs_own_folder_alone_is_bound_writable(tmp_path: Path) -> None:
    home = tree(tmp_path)
    target = home / ".mcpgateway" / "npx" / "pkg"
    asked = request(tmp_path, command="/usr/bin/npm", cwd=str(target), install=str(target))
    layout = build(asked, ["/usr/bin/npm", "install", "--prefix", str(target)], {})
    assert bound(layout)[str(target)] is True
    own = home / ".mcpgateway" / "caches" / "srv" / "npm"  # npm's cache: the install's own
    assert [p for p, w in layout.reopened if w] == [str(own), str(target)]


def test_the_probe_looks_deeper_once_and_every_request_names_what_it_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A root gateway's probe looks for root-only files deeper than a
    child's launcher does (once per gateway, off its reactor): each request
    names what it found, at most L{defaults.PRIVATE_PROBE_MAX} of them."""
    from mcpgateway.sandbox import probe

    asked: list[tuple[object, ...]] = []

    def entries(roots: object, uid: int, depth: int, limit: int) -> list[tuple[str, bool]]:
        asked.append((roots, uid, depth, limit))
        return [(f"/opt/app/conf/keys/{n}.pem", False) for n in range(400)]

    monkeypatch.setattr(masks, "privateEntries", entries)
    found = probe.privateFiles()
    assert asked == [
        (defaults.PRIVATE_SCAN_ROOTS, 0, defaults.PRIVATE_PROBE_DEPTH, defaults.PRIVATE_PROBE_LIMIT)
    ]
    assert len(found) == defaults.PRIVATE_PROBE_MAX and found[0] == "/opt/app/conf/keys/0.pem"
    named = requests.build(
        Spec("srv"),
        {},
        "/s",
        {"mechanism": "bwrap", "privateFiles": [*found, 7, None]},
        others=[],
        python="p",
        parent=1,
        gatewayCwd="/",
    )
    assert named["privateFiles"] == found


def test_a_root_only_file_deeper_than_the_launcher_looks_is_masked_from_the_request(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("a root gateway's view: run as root (CI is)")
    tree(tmp_path)
    top = Path("/opt") / f"mcpgw-test-{os.getpid()}"
    key = top / "app" / "conf" / "keys" / "server.pem"
    key.parent.mkdir(parents=True)
    try:
        key.write_text("PRIVATE")
        key.chmod(0o600)
        plain = build(request(tmp_path), ["/usr/bin/node"], {})
        assert str(key) not in masked(plain)  # deeper than a launcher's own look
        probed = build(request(tmp_path, privateFiles=[str(key)]), ["/usr/bin/node"], {})
        assert str(key) in masked(probed)
    finally:
        key.unlink()
        for folder in (key.parent, key.parent.parent, key.parent.parent.parent, top):
            folder.rmdir()
