"""Bubblewrap's command line: the namespaces, and the mounts in the order
that makes the masks win over every bind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import bwrap
from mcpgateway.sandbox.bwrap import NetworkPlan, arguments, command, mounted
from mcpgateway.sandbox.layout import Layout, build
from mcpgateway.sandbox.maskparents import Copy
from tests.support.sandbox.layout import request, tree


def layoutOf(network: str = "none") -> Layout:
    layout = Layout("/home/u", "/work", network)
    layout.system = [("ro", "/usr", "/usr"), ("symlink", "usr/bin", "/bin")]
    layout.private = ["/tmp", "/home/u"]
    layout.soft = ["/var/log"]
    layout.readOnly = [("/srv/app", "/srv/app"), ("/data/keep", "/data/keep")]
    layout.writable = [("/data", "/data"), ("/home/u/.npm", "/home/u/.npm")]
    layout.masked = [("/home/u/.ssh", True), ("/home/u/.netrc", False)]
    layout.reopened = [("/home/u/.mcpgateway/npx/pkg", False)]
    layout.placeholders = ["/home/u/notes.jsonl"]
    return layout


def positions(argv: list[str], option: str) -> list[int]:
    return [i for i, word in enumerate(argv) if word == option]


def tmpfsOf(argv: list[str], path: str) -> int:
    """Where C{--tmpfs path} names C{path}."""
    return next(i + 1 for i in positions(argv, "--tmpfs") if argv[i + 1] == path)


def test_the_namespaces_and_lifetime_of_an_unprivileged_child() -> None:
    argv = arguments(layoutOf(), root=False, disableUserns=True)
    for flag in (*bwrap.NAMESPACES, "--die-with-parent", "--new-session", "--unshare-user"):
        assert flag in argv
    assert "--disable-userns" in argv and "--unshare-net" in argv
    assert "--cap-drop" not in argv and "--unshare-user-try" not in argv


def test_a_sandbox_a_warden_guards_does_not_die_with_the_gateway_process() -> None:
    argv = arguments(layoutOf(), root=False, dieWithParent=False)
    # Its processes stay in the launcher's group, which the warden signals.
    assert "--die-with-parent" not in argv and "--new-session" not in argv
    assert "--unshare-pid" in argv


def test_as_root_the_user_namespace_is_tried_and_every_capability_dropped() -> None:
    argv = arguments(layoutOf(), root=True, disableUserns=True)
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert "--unshare-user-try" in argv and "--disable-userns" not in argv


@pytest.mark.parametrize(
    ("network", "unshared"), [("none", True), ("host", False), ("allow", False)]
)
def test_only_a_child_without_network_gets_a_network_of_its_own(
    network: str, unshared: bool
) -> None:
    assert ("--unshare-net" in arguments(layoutOf(network), root=False)) is unshared


def test_the_allow_list_proxy_plugs_in_through_the_network_plan() -> None:
    plan = NetworkPlan(
        "none",
        binds=(("/run/gw/proxy.sock", "/run/proxy.sock"),),
        environment=(("HTTPS_PROXY", "x"),),
    )
    argv = arguments(layoutOf("allow"), root=False, network=plan)
    assert "--unshare-net" in argv
    assert argv[argv.index("/run/gw/proxy.sock") - 1 : argv.index("/run/gw/proxy.sock") + 2] == [
        "--bind",
        "/run/gw/proxy.sock",
        "/run/proxy.sock",
    ]
    assert argv[argv.index("HTTPS_PROXY") - 1] == "--setenv"


def test_the_mounts_in_order_system_private_binds_masks_then_what_is_reopened() -> None:
    """The private directories and the child's binds: parents before what
    they hold (the private home before the child's C{.npm} in it)."""
    argv = arguments(layoutOf(), root=False)
    system = argv.index("/usr")
    private = [tmpfsOf(argv, "/tmp"), tmpfsOf(argv, "/home/u")]
    binds = positions(argv, "--bind") + positions(argv, "--ro-bind")
    firstBind = min(i for i in binds if argv[i + 1] != "/dev/null" and argv[i + 1] != "/usr")
    masks = [argv.index("/home/u/.ssh"), argv.index("/home/u/.netrc")]
    reopened = argv.index("/home/u/.mcpgateway/npx/pkg")
    lastBind = max(i for i in binds if argv[i + 1] in ("/srv/app", "/data", "/data/keep"))
    assert system < min(private) and system < firstBind < max(private)
    assert max(private) < argv.index("/home/u/.npm") < min(masks)
    assert lastBind < min(masks) and max(masks) < reopened
    assert argv[-2:] == ["--chdir", "/work"]


def test_a_parent_is_bound_before_what_it_holds_so_denywrite_stays_read_only() -> None:
    argv = arguments(layoutOf(), root=False)
    assert argv[argv.index("/data") - 1] == "--bind"
    assert argv.index("/data") < argv.index("/data/keep")
    assert argv[argv.index("/data/keep") - 1] == "--ro-bind"


def test_a_masked_directory_is_an_empty_unreadable_read_only_one_a_file_dev_null() -> None:
    argv = arguments(layoutOf(), root=False)
    at = argv.index("/home/u/.ssh")
    assert argv[at - 3 : at + 1] == ["--perms", "0000", "--tmpfs", "/home/u/.ssh"]
    assert argv[argv.index("/home/u/.ssh", at + 1) - 1] == "--remount-ro"
    at = argv.index("/home/u/.netrc")
    assert argv[at - 2 : at + 1] == ["--ro-bind", "/dev/null", "/home/u/.netrc"]
    at = argv.index("/home/u/notes.jsonl")
    assert argv[at - 2 : at + 1] == ["--ro-bind", "/dev/null", "/home/u/notes.jsonl"]


def test_the_whole_command_ends_with_the_childs_own() -> None:
    argv = command("/usr/bin/bwrap", layoutOf(), ["/usr/bin/node", "x.js"], root=False)
    assert argv[0] == "/usr/bin/bwrap" and argv[-3:] == ["--", "/usr/bin/node", "x.js"]


HOME_PATHS = ["~", "~/.ssh", "~/.config", "~/.aws", "~/work", "~/.mcpgateway", "~/.local"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("world")
    home = tree(tmp)
    for path in (".config/gh", ".local/share/keyrings", ".gnupg"):
        (home / path).mkdir(parents=True, exist_ok=True)
    return tmp


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reads=st.lists(st.sampled_from(HOME_PATHS), max_size=4),
    writes=st.lists(st.sampled_from(HOME_PATHS), max_size=4),
)
def test_the_deny_list_is_masked_after_every_bind_whatever_is_allowed(
    world: Path, reads: list[str], writes: list[str]
) -> None:
    profile = {"filesystem": {"allowRead": reads, "allowWrite": writes}}
    layout = build(request(world, profile=profile), ["/usr/bin/node"], {})
    argv = arguments(layout, root=False)
    home = world / "home"
    named = set(reads) | set(writes)
    for denied in ("~/.ssh", "~/.aws", "~/.config/gh", "~/.local/share/keyrings", "~/.gnupg"):
        path = str(home / denied[2:])
        if denied in named:
            continue  # an allow that names it lifts that one mask
        binds = [
            i
            for i, w in enumerate(argv)
            if w in ("--bind", "--ro-bind") and argv[i + 1] != "/dev/null"
        ]
        covering = [i for i in binds if path.startswith(argv[i + 2].rstrip("/") + "/")]
        if not covering:
            continue  # nothing shows it: its place is the child's private, empty home
        assert path in argv, (denied, reads, writes)
        at = max(i for i, word in enumerate(argv) if word == path)
        assert all(i < at for i in covering)
    shown = [argv[i + 2] for i, w in enumerate(argv) if w in ("--bind", "--ro-bind")]
    # the home, its shared folders and the state directory: nothing shows them whole
    assert not {str(home), str(home / ".config"), str(home / ".local")} & set(shown)
    assert not [p for p in shown if p.startswith(str(home / ".mcpgateway"))]


def test_a_working_directory_nothing_shows_is_made_before_the_child_enters_it() -> None:
    layout = layoutOf()
    layout.cwdMade = True
    assert arguments(layout, root=False)[-4:] == ["--dir", "/work", "--chdir", "/work"]


def test_the_system_call_filter_is_read_from_the_fd_it_is_given() -> None:
    argv = command("/usr/bin/bwrap", layoutOf(), ["/usr/bin/node"], root=False, seccomp=5)
    at = argv.index("--seccomp")
    assert argv[at + 1] == "5" and at < argv.index("--")
    assert "--seccomp" not in arguments(layoutOf(), root=False)


def test_a_mask_is_made_read_only_after_what_is_bound_again_inside_it() -> None:
    """The child's install in the masked state directory: bubblewrap makes
    its mount point in the mask's empty directory, which must still be
    writable then, and enterable (never listable) by the child after."""
    layout = layoutOf()
    layout.masked = [("/home/u/.mcpgateway", True), ("/home/u/.ssh", True)]
    layout.reopened = [("/home/u/.mcpgateway/npx/pkg", False)]
    layout.readOnly = [("/srv/app", "/srv/app"), ("/var/log/app", "/var/log/app")]
    argv = arguments(layout, root=False)
    state = argv.index("/home/u/.mcpgateway")
    assert argv[state - 3 : state + 1] == ["--perms", "0111", "--tmpfs", "/home/u/.mcpgateway"]
    assert argv[argv.index("/home/u/.ssh") - 2] == "0000"
    reopened = argv.index("/home/u/.mcpgateway/npx/pkg")
    readOnly = [i + 1 for i in positions(argv, "--remount-ro")]
    assert sorted(argv[i] for i in readOnly) == ["/home/u/.mcpgateway", "/home/u/.ssh", "/var/log"]
    assert min(readOnly) > reopened
    assert argv.index("/var/log/app") < argv.index("--remount-ro")  # soft: emptied, bound, closed


def presentedLayout() -> Layout:
    """C{/etc} and the child's C{/srv/app} holding masked paths, shown as a
    tmpfs of their other entries; C{/srv/app/data} is the child's to write."""
    layout = layoutOf()
    layout.system = [("ro", "/usr", "/usr"), ("ro", "/etc", "/etc")]
    layout.readOnly = [("/srv/app", "/srv/app"), ("/srv/app/lib/x", "/srv/app/lib/x")]
    layout.writable = [("/srv/app/data", "/srv/app/data")]
    layout.masked = [("/etc/shadow", False), ("/srv/app/.env", False), ("/srv/app/keys", True)]
    layout.presented = [
        ("/etc", "/etc", 0o755, [("hosts", ""), ("mtab", "../proc/self/mounts")]),
        ("/srv/app", "/srv/app", 0o750, [("data", ""), ("lib", ""), ("main.js", "")]),
    ]
    return layout


def test_a_folder_holding_a_mask_is_a_tmpfs_of_its_other_entries_the_masks_inside() -> None:
    argv = arguments(presentedLayout(), root=False)
    etc = tmpfsOf(argv, "/etc")
    assert argv[etc - 3 : etc + 1] == ["--perms", "0755", "--tmpfs", "/etc"]
    assert argv.index("/proc") < etc  # after the system, among the child's binds
    at = argv.index("/etc/hosts")
    assert argv[at - 1 : at + 2] == ["--ro-bind-try", "/etc/hosts", "/etc/hosts"] and etc < at
    at = argv.index("/etc/mtab")
    assert argv[at - 2 : at + 1] == ["--symlink", "../proc/self/mounts", "/etc/mtab"]
    shadow = argv.index("/etc/shadow")
    assert argv[shadow - 2 : shadow + 1] == ["--ro-bind", "/dev/null", "/etc/shadow"]
    assert at < shadow
    app = tmpfsOf(argv, "/srv/app")
    assert argv[app - 3 : app + 1] == ["--perms", "0750", "--tmpfs", "/srv/app"]
    assert (
        argv.index("/srv/app") < app < argv.index("/srv/app/main.js") < argv.index("/srv/app/.env")
    )
    keys = argv.index("/srv/app/keys")
    assert argv[keys - 3 : keys + 1] == ["--perms", "0000", "--dir", "/srv/app/keys"]
    assert app < keys  # a folder of the tmpfs: no mount, read-only with it
    readOnly = [argv[i + 1] for i in positions(argv, "--remount-ro")]
    assert {"/etc", "/srv/app"} <= set(readOnly) and "/srv/app/keys" not in readOnly
    assert min(positions(argv, "--remount-ro")) > max(shadow, keys)


def test_over_a_bind_an_empty_folder_is_a_tmpfs_of_its_own() -> None:
    """A folder made there would be the host's directory: a masked one
    the child's own bind names too would show its content, a directory
    shown as a tmpfs its own bind shows would have its entries written
    through the bind."""
    layout = presentedLayout()
    layout.readOnly += [("/srv/app/keys", "/srv/app/keys"), ("/srv/app/lib", "/srv/app/lib")]
    layout.masked += [("/srv/app/lib/.env", False)]
    layout.presented += [("/srv/app/lib", "/srv/app/lib", 0o755, [("index.js", "")])]
    argv = arguments(layout, root=False)
    keys = tmpfsOf(argv, "/srv/app/keys")
    assert argv[keys - 3 : keys + 1] == ["--perms", "0000", "--tmpfs", "/srv/app/keys"]
    bound = argv.index("/srv/app/keys")
    assert argv[bound - 1] == "--ro-bind" and bound < keys
    lib = tmpfsOf(argv, "/srv/app/lib")
    assert argv[lib - 3 : lib + 1] == ["--perms", "0755", "--tmpfs", "/srv/app/lib"]
    assert argv.index("/srv/app/lib") < lib < argv.index("/srv/app/lib/index.js")
    readOnly = {argv[i + 1] for i in positions(argv, "--remount-ro")}
    assert {"/srv/app/keys", "/srv/app/lib"} <= readOnly


def test_a_masked_file_of_a_tmpfs_is_an_empty_file_no_one_may_read_made_last() -> None:
    """No mount: bubblewrap copies it from C{/dev/null}, after every bind
    (none can show the host's file there), mode 0000 as a bind of
    C{/dev/null} is refused (C{nodev}); over the child's own bind of the
    same path, a mount on it as before."""
    layout = presentedLayout()
    layout.masked += [("/srv/app/main.js", False)]
    layout.readOnly += [("/srv/app/main.js", "/srv/app/main.js")]
    assert bwrap.emptied(layout) == ["/etc/shadow", "/srv/app/.env"]
    copies: dict[str, Copy | None] = {
        "/etc/shadow": (11, 0, ""),
        "/srv/app/.env": (12, 0, ""),
        "/srv/app/main.js": (13, 0, ""),
    }
    argv = arguments(layout, root=False, copies=copies)
    shadow = argv.index("/etc/shadow")
    assert argv[shadow - 4 : shadow + 1] == ["--perms", "0000", "--file", "11", "/etc/shadow"]
    env = argv.index("/srv/app/.env")
    assert argv[env - 4 : env + 1] == ["--perms", "0000", "--file", "12", "/srv/app/.env"]
    main = [i for i, word in enumerate(argv) if word == "/srv/app/main.js"]
    assert argv[main[-1] - 2 : main[-1]] == ["--ro-bind", "/dev/null"] and "13" not in argv
    binds = [i for i, word in enumerate(argv) if word in ("--ro-bind-try", "--bind")]
    assert max(binds) < min(shadow, env) and argv.count("/etc/shadow") == 1
    without = arguments(layout, root=False)
    at = without.index("/etc/shadow")
    assert without[at - 2 : at] == ["--ro-bind", "/dev/null"]


def test_a_folder_shown_as_a_tmpfs_is_not_bound_from_the_host_first() -> None:
    """The tmpfs takes its place: a bind under it is a mount bubblewrap
    reads the mount table for, and every later mount reads it again."""
    argv = arguments(presentedLayout(), root=False)
    assert [argv[i - 1] for i, word in enumerate(argv) if word == "/etc"] == [
        "--tmpfs",
        "--remount-ro",
    ]
    assert argv[argv.index("/usr") - 1 : argv.index("/usr") + 2] == ["--ro-bind", "/usr", "/usr"]


def test_a_folder_shown_as_a_tmpfs_keeps_what_the_childs_own_binds_show_inside_it() -> None:
    """Its writable folder is bound by its own bind, once; a deeper bind
    comes after the tmpfs, which would hide it."""
    argv = arguments(presentedLayout(), root=False)
    data = [i for i, word in enumerate(argv) if word == "/srv/app/data"]
    assert len(data) == 2 and argv[data[0] - 1] == "--bind"  # source and target of one bind
    app = tmpfsOf(argv, "/srv/app")
    assert app < data[0]
    assert app < argv.index("/srv/app/lib") < argv.index("/srv/app/lib/x")
    assert argv[argv.index("/srv/app/lib/x") - 1] == "--ro-bind"


def test_without_a_folder_shown_as_a_tmpfs_a_mask_is_on_the_hosts_entry() -> None:
    layout = presentedLayout()
    layout.presented = []
    argv = arguments(layout, root=False)
    assert "--ro-bind-try" not in argv and argv.count("/etc") == 2
    assert argv[argv.index("/etc/shadow") - 2 : argv.index("/etc/shadow")] == [
        "--ro-bind",
        "/dev/null",
    ]


@settings(max_examples=40, deadline=None)
@given(
    names=st.sets(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=1),
    data=st.data(),
)
def test_every_masked_name_is_made_inside_its_tmpfs(names: set[str], data: st.DataObject) -> None:
    """Never a mount on the host's entry: each mask comes after the tmpfs
    of its folder, and no entry of the host's is bound at a masked name."""
    hidden = data.draw(st.sets(st.sampled_from(sorted(names)), min_size=1))
    layout = layoutOf()
    layout.masked = [(f"/srv/app/{name}", name < "c") for name in sorted(hidden)]
    entries = [(name, "") for name in sorted(names - hidden)]
    layout.presented = [("/srv/app", "/srv/app", 0o755, entries)]
    argv = arguments(layout, root=False)
    tmpfs = tmpfsOf(argv, "/srv/app")
    for name in hidden:
        at = argv.index(f"/srv/app/{name}")
        assert at > tmpfs and argv[at - 1] in ("/dev/null", "--dir")
    bound = [argv[i + 2] for i in positions(argv, "--ro-bind-try")]
    assert sorted(bound) == [f"/srv/app/{name}" for name in sorted(names - hidden)]


def test_a_copied_file_is_written_into_the_tmpfs_from_its_descriptor() -> None:
    copies: dict[str, Copy | None] = {"/etc/hosts": (7, 0o644, "")}
    argv = arguments(presentedLayout(), root=False, copies=copies)
    at = argv.index("/etc/hosts")
    assert argv[at - 4 : at + 1] == ["--perms", "0644", "--file", "7", "/etc/hosts"]
    assert tmpfsOf(argv, "/etc") < at and argv.count("/etc/hosts") == 1  # never bound too


def test_a_folder_made_in_the_tmpfs_comes_before_what_it_holds_none_of_it_bound() -> None:
    layout = presentedLayout()
    layout.presented[0] = ("/etc", "/etc", 0o755, [("apt", ""), ("hosts", "")])
    copies: dict[str, Copy | None] = {
        "/etc/apt/sources.list": (8, 0o644, ""),
        "/etc/apt": (-1, 0o755, ""),
        "/etc/apt/keys": (-1, 0o700, ""),
        "/etc/apt/keys/main.gpg": (-1, 0, "../trusted.gpg"),
        "/etc/apt/gone": None,
    }
    argv = arguments(layout, root=False, copies=copies)
    apt = argv.index("/etc/apt")
    assert argv[apt - 3 : apt + 1] == ["--perms", "0755", "--dir", "/etc/apt"]
    keys = argv.index("/etc/apt/keys")
    assert argv[keys - 3 : keys + 1] == ["--perms", "0700", "--dir", "/etc/apt/keys"]
    link = argv.index("/etc/apt/keys/main.gpg")
    assert argv[link - 2 : link + 1] == ["--symlink", "../trusted.gpg", "/etc/apt/keys/main.gpg"]
    source = argv.index("/etc/apt/sources.list")
    assert argv[source - 2 : source + 1] == ["--file", "8", "/etc/apt/sources.list"]
    assert tmpfsOf(argv, "/etc") < apt < min(keys, source) and keys < link
    assert "/etc/apt/gone" not in argv and argv.count("/etc/apt") == 1  # never bound


@settings(max_examples=40, deadline=None)
@given(
    paths=st.sets(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4).map("/".join),
        min_size=1,
        max_size=12,
    ),
    data=st.data(),
)
def test_what_is_made_in_the_tmpfs_comes_after_the_folder_holding_it(
    paths: set[str], data: st.DataObject
) -> None:
    """Whatever the order of the copies: bubblewrap makes a folder before
    anything in it, inside the tmpfs."""
    folders = {path[:i] for path in paths for i, c in enumerate(path) if c == "/"}
    made: dict[str, Copy | None] = {f"/srv/app/{path}": (-1, 0o755, "") for path in folders}
    for number, path in enumerate(sorted(paths - folders)):
        made[f"/srv/app/{path}"] = data.draw(
            st.sampled_from([(10 + number, 0o644, ""), (-1, 0, "target")])
        )
    copies = dict(data.draw(st.permutations(list(made.items()))))
    layout = layoutOf()
    layout.masked = [("/srv/app/secret", False)]
    top = sorted({path.split("/")[0] for path in paths})
    layout.presented = [("/srv/app", "/srv/app", 0o755, [(name, "") for name in top])]
    argv = arguments(layout, root=False, copies=copies)
    tmpfs = tmpfsOf(argv, "/srv/app")
    for path in made:
        at = argv.index(path)
        parent = os.path.dirname(path)
        assert at > (tmpfs if parent == "/srv/app" else argv.index(parent))
    assert "--ro-bind-try" not in argv


def test_the_paths_other_mounts_make_are_never_made_as_copies() -> None:
    layout = presentedLayout()
    layout.placeholders = ["/etc/missing.conf"]
    layout.cwdMade = True
    network = NetworkPlan("allow", binds=(("/run/proxy.sock", "/tmp/proxy.sock"),))
    paths = mounted(layout, network)
    assert {"/usr", "/etc", "/srv/app", "/srv/app/lib/x", "/srv/app/data"} <= paths
    assert {"/etc/shadow", "/srv/app/keys", "/etc/missing.conf", "/work"} <= paths
    assert {"/tmp", "/home/u", "/var/log", "/home/u/.mcpgateway/npx/pkg"} <= paths
    assert "/tmp/proxy.sock" in paths and "/etc/hosts" not in paths


def test_a_folder_shown_as_a_tmpfs_inside_another_is_made_in_it_not_bound() -> None:
    """C{/var} holding C{/var/lib}, which holds a mask, and the child's
    private C{/var/tmp} and soft C{/var/log}: each made inside C{/var}'s
    tmpfs, after it; no entry of the host's is bound there."""
    layout = layoutOf()
    layout.system = [("ro", "/var", "/var")]
    layout.private = ["/tmp", "/var/tmp"]
    layout.soft = ["/var/log"]
    layout.masked = [("/var/lib/private", True)]
    layout.presented = [
        ("/var", "/var", 0o755, [("cache", ""), ("lib", ""), ("log", ""), ("tmp", "")]),
        ("/var/lib", "/var/lib", 0o755, [("apt", "")]),
    ]
    argv = arguments(layout, root=False)
    var = tmpfsOf(argv, "/var")
    lib = argv.index("/var/lib")
    assert argv[lib - 3 : lib + 1] == ["--perms", "0755", "--dir", "/var/lib"]
    assert var < lib < argv.index("/var/lib/apt")
    log = argv.index("/var/log")
    assert argv[log - 1] == "--dir" and var < log  # empty, read-only with /var
    assert var < tmpfsOf(argv, "/var/tmp")  # the child's to write: a tmpfs of its own
    bound = [argv[i + 2] for i in positions(argv, "--ro-bind-try")]
    assert bound == ["/var/cache", "/var/lib/apt"]
    private = argv.index("/var/lib/private")
    assert argv[private - 3 : private + 1] == ["--perms", "0000", "--dir", "/var/lib/private"]
    assert lib < private
    readOnly = [argv[i + 1] for i in positions(argv, "--remount-ro")]
    assert readOnly == ["/var"]  # one mount: all of it read-only


def test_a_file_gone_since_the_listing_is_not_shown() -> None:
    argv = arguments(presentedLayout(), root=False, copies={"/etc/hosts": None})
    assert "/etc/hosts" not in argv and "/etc/mtab" in argv
