"""Which directories holding a masked path a bubblewrap child is shown as
a tmpfs of their entries, and what each holds."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import maskparents
from mcpgateway.sandbox.layout import build
from mcpgateway.sandbox.maskparents import Copy, present, readableByChild
from mcpgateway.sandbox.places import under
from tests.support.sandbox.layout import request, tree


def always(path: str, directory: bool) -> bool:
    return True


def never(path: str, directory: bool) -> bool:
    return False


def folder(tmp_path: Path) -> Path:
    """A folder with a secret, a public file, a subfolder and a symlink."""
    shown = tmp_path / "shown"
    (shown / "sub").mkdir(parents=True)
    (shown / "secret").write_text("s")
    (shown / "public").write_text("p")
    (shown / "sub" / "deep").write_text("d")
    (shown / "link").symlink_to("public")
    shown.chmod(0o750)
    return shown


def test_a_read_only_folder_holding_a_masked_file_is_its_other_entries(tmp_path: Path) -> None:
    shown = folder(tmp_path)
    secret = str(shown / "secret")
    notes: list[str] = []
    out = present([(secret, False)], [(str(shown), str(shown), False)], notes, always)
    assert out == [
        (str(shown), str(shown), 0o750, [("link", "public"), ("public", ""), ("sub", "")])
    ]
    assert notes == []


def test_the_entries_are_read_where_the_bind_comes_from(tmp_path: Path) -> None:
    """A folder bound at another name (a symlink's) is listed at its source."""
    shown = folder(tmp_path)
    seen = "/srv/seen"
    out = present([(f"{seen}/secret", False)], [(seen, str(shown), False)], [], always)
    assert [(path, source) for path, source, _, _ in out] == [(seen, str(shown))]
    assert [name for name, _ in out[0][3]] == ["link", "public", "sub"]
    deep = present([(f"{seen}/sub/deep", False)], [(seen, str(shown), False)], [], always)
    assert [source for _, source, _, _ in deep] == [str(shown), str(shown / "sub")]


def test_each_folder_above_a_nested_mask_up_to_its_bind_is_a_tmpfs(tmp_path: Path) -> None:
    """A tmpfs on C{sub} made in the host's C{shown} would stay on the
    host's C{sub}: renamed away, a new C{sub} would show its new C{deep}."""
    shown = folder(tmp_path)
    deep = str(shown / "sub" / "deep")
    binds = [(str(tmp_path), "", None), (str(shown), str(shown), False)]
    out = present([(deep, False)], binds, [], always)
    assert [(path, source) for path, source, _, _ in out] == [
        (str(shown), str(shown)),
        (str(shown / "sub"), str(shown / "sub")),
    ]
    assert [name for name, _ in out[0][3]] == ["link", "public", "secret", "sub"]
    assert out[1][3] == []


def test_a_masked_directory_makes_its_parent_a_tmpfs_too(tmp_path: Path) -> None:
    """Swapped for a new directory on the host, it would show the new one."""
    shown = folder(tmp_path)
    out = present([(str(shown / "sub"), True)], [(str(shown), str(shown), False)], [], always)
    assert [name for name, _ in out[0][3]] == ["link", "public", "secret"]


def test_a_folder_the_child_writes_keeps_its_masks_on_the_hosts_entries(tmp_path: Path) -> None:
    """A tmpfs would keep what the child makes there from the host."""
    shown = folder(tmp_path)
    secret = str(shown / "secret")
    assert present([(secret, False)], [(str(shown), str(shown), True)], [], always) == []
    inner = [(str(tmp_path), str(tmp_path), False), (str(shown), str(shown), True)]
    assert present([(secret, False)], inner, [], always) == []
    outer = [(str(tmp_path), str(tmp_path), True), (str(shown), str(shown), False)]
    assert len(present([(secret, False)], outer, [], always)) == 1  # a denyWrite inside


def test_nothing_of_the_childs_own_empty_folders_nor_of_a_masked_one(tmp_path: Path) -> None:
    shown = folder(tmp_path)
    masked = [(str(shown), True), (str(shown / "sub" / "deep"), False)]
    binds = [(str(tmp_path), "", None), (str(shown), str(shown), False)]
    out = present(masked, binds, [], always)
    assert out == []  # the tmp_path is a private tmpfs, sub is in the masked folder
    assert present([("/secret", False)], [("/", "/", False)], [], always) == []
    assert present([(str(shown / "secret"), False)], [], [], always) == []  # not shown at all


def test_a_mask_the_kernel_refuses_the_child_anyway_costs_no_tmpfs(tmp_path: Path) -> None:
    shown = folder(tmp_path)
    secret = str(shown / "secret")
    assert present([(secret, False)], [(str(shown), str(shown), False)], [], never) == []
    both = [(secret, False), (str(shown / "public"), False)]
    readable = {str(shown / "public")}
    out = present(both, [(str(shown), str(shown), False)], [], lambda p, d: p in readable)
    assert [name for name, _ in out[0][3]] == ["link", "sub"]  # both made inside the tmpfs


def test_a_folder_that_cannot_be_listed_or_is_too_big_is_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = folder(tmp_path)
    secret = str(shown / "secret")
    notes: list[str] = []
    gone = str(tmp_path / "gone")
    assert present([(f"{gone}/x", False)], [(gone, gone, False)], notes, always) == []
    monkeypatch.setattr(maskparents, "MAX_ENTRIES", 3)
    assert present([(secret, False)], [(str(shown), str(shown), False)], notes, always) == []
    assert len(notes) == 2 and "cannot be listed" in notes[0] and "over 3" in notes[1]
    assert all("its masks are mounts" in note for note in notes)


def test_a_child_of_root_reads_every_mask_an_ordinary_ones_by_its_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert readableByChild(str(secret), False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    asked: list[tuple[str, int]] = []

    def access(path: str, mode: int) -> bool:
        asked.append((path, mode))
        return False

    monkeypatch.setattr(os, "access", access)
    assert not readableByChild(str(secret), False) and not readableByChild(str(tmp_path), True)
    assert asked == [(str(secret), os.R_OK), (str(tmp_path), os.X_OK)]


NAMES = st.text(alphabet="abcxyz.-_0", min_size=1, max_size=6).filter(
    lambda n: n not in (".", "..")
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.sets(NAMES, min_size=1, max_size=12), data=st.data())
def test_every_entry_but_the_masked_ones_is_shown(
    tmp_path_factory: pytest.TempPathFactory, names: set[str], data: st.DataObject
) -> None:
    shown = tmp_path_factory.mktemp("any")
    for name in names:
        (shown / name).write_text(name)
    hidden = data.draw(st.sets(st.sampled_from(sorted(names)), min_size=1))
    masked = [(str(shown / name), False) for name in hidden]
    out = present(masked, [(str(shown), str(shown), False)], [], always)
    assert [name for name, _ in out[0][3]] == sorted(names - hidden)


def test_a_denyread_in_a_folder_the_child_reads_is_made_in_its_tmpfs(tmp_path: Path) -> None:
    """The layout's own binds say which folders: one it reads is shown as
    a tmpfs of its entries, one it writes keeps its mask on the host's."""
    home = tree(tmp_path)
    for name in ("reads", "writes"):
        (home / name).mkdir()
        (home / name / ".env").write_text("TOKEN=x")
        (home / name / "notes").write_text("n")
        (home / name).chmod(0o755)
    profile = {
        "filesystem": {
            "allowRead": ["~/reads"],
            "allowWrite": ["~/writes"],
            "denyRead": ["~/reads/.env", "~/writes/.env"],
        }
    }
    layout = build(request(tmp_path, profile=profile), ["/usr/bin/node"], {})
    assert {str(home / "reads/.env"), str(home / "writes/.env")} <= {p for p, _ in layout.masked}
    mine = [item for item in layout.presented if item[0].startswith(str(home))]
    assert mine == [(str(home / "reads"), str(home / "reads"), 0o755, [("notes", "")])]


def closeAll(opened: dict[str, Copy | None]) -> None:
    for copied in opened.values():
        if copied is not None and copied[0] >= 0:
            os.close(copied[0])


def openFds() -> set[int]:
    """This process's open fds (not the one that listed them, closed since)."""
    out: set[int] = set()
    for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
        try:
            os.fstat(fd)
        except OSError:
            continue
        out.add(fd)
    return out


def test_a_small_regular_file_is_copied_from_an_inheritable_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No mount for it: bubblewrap writes it into the tmpfs. A larger
    file, a symlink and a pipe are bound, never opened; a file gone since
    the listing is not shown (its bind would fail the start)."""
    shown = folder(tmp_path)
    (shown / "public").chmod(0o640)
    (shown / "big").write_text("b" * 11)
    (shown / "gone").write_text("g")
    os.mkfifo(shown / "pipe")
    monkeypatch.setattr(maskparents, "MAX_COPY", 10)
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    (shown / "gone").unlink()
    opened = maskparents.copies(out)
    try:
        files = {path for path, made in opened.items() if made is None or made[0] >= 0}
        assert sorted(files) == [str(shown / name) for name in ("gone", "public", "sub/deep")]
        assert opened[str(shown / "gone")] is None
        copied = opened[str(shown / "public")]
        assert copied is not None
        fd, mode, link = copied
        assert mode == 0o640 and not link and os.get_inheritable(fd) and os.read(fd, 10) == b"p"
        assert str(shown / "big") not in opened and str(shown / "pipe") not in opened
    finally:
        closeAll(opened)
    high = maskparents.copies(out, 40)  # fd 9 stays the launcher's, for the child's stdout
    try:
        assert all(c is None or c[0] == -1 or c[0] >= 40 for c in high.values())
    finally:
        closeAll(high)
    monkeypatch.setattr(maskparents, "MAX_COPIES", 0)
    assert maskparents.copies(out) == {}


def test_a_small_folder_is_made_with_what_it_holds_none_of_it_bound(tmp_path: Path) -> None:
    """A bind costs bubblewrap a read of the whole mount table: a folder of
    a few entries costs less made, its files copied."""
    shown = folder(tmp_path)
    (shown / "sub" / "inner").mkdir(mode=0o750)
    (shown / "sub" / "inner").chmod(0o750)
    (shown / "sub" / "inner" / "conf").write_text("c")
    (shown / "sub" / "inner" / "conf").chmod(0o604)
    (shown / "sub" / "up").symlink_to("../public")
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    opened = maskparents.copies(out)
    try:
        sub = str(shown / "sub")
        inside = {path: made for path, made in opened.items() if under(path, sub)}
        names = ["", "/deep", "/inner", "/inner/conf", "/up"]
        assert sorted(inside) == [sub + name for name in names]
        assert inside[sub] == (-1, 0o755, "") and inside[f"{sub}/inner"] == (-1, 0o750, "")
        assert inside[f"{sub}/up"] == (-1, 0, "../public")
        conf = inside[f"{sub}/inner/conf"]
        assert conf is not None and conf[1] == 0o604 and os.read(conf[0], 10) == b"c"
    finally:
        closeAll(opened)


@pytest.mark.parametrize(
    "why", ["entries", "bytes", "pipe", "kept", "holds kept", "unlistable", "error"]
)
def test_a_folder_too_big_or_holding_what_is_no_copy_is_bound_its_fds_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """Larger folders are bound as they are (and so is one where another
    mount makes a path: a mask, the child's own bind, which bubblewrap
    would write the copies into); none of their files stays open."""
    shown = folder(tmp_path)
    sub = shown / "sub"
    for number in range(3):
        (sub / f"file{number}").write_text("x" * 100)
    kept: list[str] = []
    if why == "entries":
        monkeypatch.setattr(maskparents, "MAX_TREE", 3)
    elif why == "bytes":
        monkeypatch.setattr(maskparents, "MAX_TREE_BYTES", 250)
    elif why == "pipe":
        os.mkfifo(sub / "pipe")
    elif why == "kept":
        kept = [str(sub / "file1")]
    elif why == "holds kept":
        kept = [str(sub / "deeper" / "mask")]
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    if why == "unlistable":  # a level of it another user's private folder
        deeper = str(sub / "deeper")
        (sub / "deeper").mkdir()
        theirs = os.stat(deeper)
        monkeypatch.setattr(
            maskparents, "childMay", lambda info, *_: not os.path.samestat(info, theirs)
        )
    if why == "error":  # the third of its files cannot be opened nor looked at
        opens: list[str] = []
        realOpen, realLstat = os.open, os.lstat

        def failing(path: str, *args: int) -> int:
            if under(path, str(sub)):
                opens.append(path)
                if len(opens) == 3:
                    raise PermissionError(13, "Permission denied")
            return realOpen(path, *args)

        def lstat(path: str) -> os.stat_result:
            if opens[2:] == [path]:
                raise PermissionError(13, "Permission denied")
            return realLstat(path)

        monkeypatch.setattr(os, "open", failing)
        monkeypatch.setattr(os, "lstat", lstat)
    before = openFds()
    opened = maskparents.copies(out, 0, kept)
    try:
        assert not any(under(path, str(sub)) for path in opened)
        assert str(shown / "public") in opened  # the rest as it is
        held = {made[0] for made in opened.values() if made is not None and made[0] >= 0}
        assert openFds() - before == held
    finally:
        closeAll(opened)


def test_a_mask_made_in_the_tmpfs_is_copied_from_dev_null(tmp_path: Path) -> None:
    shown = folder(tmp_path)
    secret = str(shown / "secret")
    out = present([(secret, False)], [(str(shown), str(shown), False)], [], always)
    opened = maskparents.copies(out, 40, [secret], [secret])
    try:
        made = opened[secret]
        assert made is not None and made[1:] == (0, "") and made[0] >= 40
        assert os.get_inheritable(made[0]) and os.read(made[0], 10) == b""
    finally:
        closeAll(opened)


def test_nothing_another_mount_makes_is_opened(tmp_path: Path) -> None:
    shown = folder(tmp_path)
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    opened = maskparents.copies(out, 0, [str(shown / "public")])
    try:
        assert str(shown / "public") not in opened
    finally:
        closeAll(opened)


def test_the_copies_leave_bubblewrap_fds_of_the_launchers_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child's C{openFiles} is the launcher's limit: past it, files are
    bound, never a start failed for want of an fd."""
    shown = tmp_path / "shown"
    shown.mkdir()
    for number in range(6):
        (shown / f"file{number}").write_text("x")
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    lowest = max(openFds()) + 1
    soft = lowest + maskparents.FDS_LEFT + 2
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, resource.RLIM_INFINITY))
    opened = maskparents.copies(out, lowest)
    try:
        assert len(opened) == 2 and all(c is not None and c[0] < soft for c in opened.values())
    finally:
        closeAll(opened)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    paths=st.sets(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map("/".join),
        min_size=1,
        max_size=10,
    ),
    hidden=st.sets(st.sampled_from(["a", "a/b", "b/c", "c/a/b"]), max_size=2),
)
def test_a_folder_made_shows_what_the_hosts_holds_or_is_bound_whole(
    tmp_path_factory: pytest.TempPathFactory, paths: set[str], hidden: set[str]
) -> None:
    """Whatever the tree: each folder of the shown one is made with every
    entry it holds on the host, or left to its bind, never made in part."""
    shown = tmp_path_factory.mktemp("tree")
    folders = {path[:i] for path in paths for i, c in enumerate(path) if c == "/"}
    for path in sorted(paths | folders):
        if path in folders:
            (shown / path).mkdir(exist_ok=True)
        else:
            (shown / path).write_text(path)
    kept = [str(shown / path) for path in hidden]
    masked = [(str(shown / "secret"), False)]
    out = present(masked, [(str(shown), str(shown), False)], [], always)
    opened = maskparents.copies(out, 0, kept)
    try:
        for name, _ in out[0][3]:
            host = shown / name
            inside = {p for p in opened if under(p, str(host))}
            if any(under(path, str(host)) for path in kept):
                assert inside == set()  # bound, or made by another mount
            elif not host.is_dir():
                assert inside == {str(host)}
                continue
            onHost = {str(host), *(str(p) for p in host.rglob("*"))}
            assert inside in (set(), onHost)
            if any(under(path, str(host)) for path in kept):
                continue
            elif len(onHost) - 1 <= maskparents.MAX_TREE:
                assert inside == onHost
            for path in inside:
                made = opened[path]
                assert made is not None
                if Path(path).is_dir():
                    assert made[0] == -1
                else:
                    assert made[0] >= 0 and os.read(made[0], 100).decode() == str(
                        Path(path).relative_to(shown)
                    )
    finally:
        closeAll(opened)


def test_a_file_the_child_cannot_read_is_an_empty_one_of_its_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never bound either (a lock or a temporary file, gone in a moment,
    would fail the start): its content is the child's in no way."""
    shown = folder(tmp_path)
    (shown / "public").chmod(0o600)
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    real = os.open

    def refused(path: str, flags: int, mode: int = 0o777) -> int:
        if path == str(shown / "public"):
            raise PermissionError(13, "Permission denied")
        return real(path, flags, mode)

    monkeypatch.setattr(os, "open", refused)
    opened = maskparents.copies(out)
    try:
        copied = opened[str(shown / "public")]
        assert copied is not None and copied[1] == 0o600 and os.read(copied[0], 10) == b""
    finally:
        closeAll(opened)


def test_a_root_child_gets_no_content_nor_listing_its_mode_keeps_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root's launcher holds capabilities its child drops: another user's
    private file, copied, would be the child's own; listed, another user's
    private folder would be the child's tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("root's launcher: run as root (CI does)")
    shown = folder(tmp_path)
    (shown / "theirs").write_text("t")
    os.chown(shown / "theirs", 4242, 4242)
    (shown / "theirs").chmod(0o600)
    (shown / "mine").write_text("m")
    (shown / "mine").chmod(0o400)
    out = present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], [], always)
    opened = maskparents.copies(out)
    try:
        mine, theirs = opened[str(shown / "mine")], opened[str(shown / "theirs")]
        assert mine is not None and os.read(mine[0], 10) == b"m"
        assert theirs is not None and theirs[1] == 0o600 and os.read(theirs[0], 10) == b""
    finally:
        closeAll(opened)
    os.chown(shown, 4242, 4242)
    shown.chmod(0o700)
    notes: list[str] = []
    assert present([(str(shown / "secret"), False)], [(str(shown), str(shown), False)], notes) == []
    assert "is not the child's to list" in notes[0]


@pytest.mark.parametrize(
    ("uid", "gid", "mode", "bits", "may"),
    [
        (0, 0, 0o400, 4, True),
        (0, 0, 0o044, 4, False),  # root's own class is the owner's
        (4242, 0, 0o040, 4, True),
        (4242, 4242, 0o604, 4, True),
        (4242, 4242, 0o660, 4, False),
        (0, 0, 0o600, 5, False),
        (0, 0, 0o500, 5, True),
    ],
)
def test_what_a_child_of_root_may_by_the_mode(
    monkeypatch: pytest.MonkeyPatch, uid: int, gid: int, mode: int, bits: int, may: bool
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "getgroups", lambda: [0])
    info = os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))
    assert maskparents.childMay(info, bits) is may
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert maskparents.childMay(info, bits)  # an ordinary user's: its own open was the check
