"""The profile a learning server's records suggest: beyond the default
profile only, collapsed to directories, the deny list kept, hosts as
allow-list entries."""

from __future__ import annotations

from mcpgateway.sandbox.learnrecord import Access, Connection, Records
from mcpgateway.sandbox.learnsuggest import Baseline, suggest

HOME = "/home/u"
BASE = Baseline(
    home=HOME,
    stateDir=HOME + "/.mcpgateway",
    readOnly=("/srv/app", HOME + "/.mcpgateway/npx/pkg"),
    writable=(HOME + "/.npm",),
    system=("/usr", "/etc", "/bin", "/usr/bin"),
    gatewayPort=9100,
)
DIRS = {
    HOME + "/reference",
    HOME + "/.cache/pip",
    HOME + "/.cache/pip/http",
    HOME + "/notes",
    "/srv/data",
    *(f"/srv/data/d{i}" for i in range(12)),
}
HERE = {"/tmp/shared/data.csv", HOME + "/gone-but-here", *DIRS}


def suggested(*accesses: Access, hosts: set[tuple[str, int, str]] | None = None) -> Records:
    return Records(accesses=set(accesses), hosts=hosts or set())


def run(records: Records) -> dict[str, object]:
    found = suggest(records, BASE, lambda p: p in HERE, lambda p: p in DIRS)
    return {
        "profile": found.profile(),
        "kept": found.keptDenied,
        "notes": found.notes,
    }


def test_what_the_default_profile_gives_is_left_out() -> None:
    out = run(
        suggested(
            Access("/usr/lib/x.so", False),
            Access("/srv/app/index.js", False),
            Access(HOME + "/.npm/_cacache/x", True),
            Access("/tmp/scratch", True),
            Access(HOME, False),
            Access("/home", False),
            Access("/proc/self/maps", False),
            Access(HOME + "/.mcpgateway/npx/pkg/x.js", False),
        )
    )
    assert out == {"profile": {}, "kept": [], "notes": []}


def test_files_collapse_to_their_directory_and_a_package_cache_to_itself() -> None:
    out = run(
        suggested(
            Access(HOME + "/reference/a.txt", False),
            Access(HOME + "/reference/b.txt", False),
            Access(HOME + "/.cache/pip/http/1/2/3/f", False),
            Access(HOME + "/.cache/pip/http/4/f", False),
            *(Access(f"/srv/data/d{i}/f", False) for i in range(12)),
            Access("/opt2/one/f", False),
        )
    )
    assert out["profile"] == {
        "filesystem": {
            "allowRead": ["~/.cache/pip", "~/reference", "/opt2/one", "/srv/data"],
        }
    }


def test_writes_the_sandbox_refused_are_allowed_with_their_directory() -> None:
    out = run(
        suggested(
            Access(HOME + "/notes/todo.md", True, "EROFS"),
            Access(HOME + "/notes/old.md", False),
            Access(HOME + "/.toolrc", True, "EROFS"),
            Access(HOME + "/.tool", True, "EROFS", mkdir=True),
            Access("/usr/share/x", True, "EROFS"),
        )
    )
    assert out["profile"] == {
        "filesystem": {"allowWrite": ["~/.tool/", "~/.toolrc", "~/notes"]},
    }
    assert out["kept"] == ["writing /usr/share/x (a system path: kept read-only)"]


def test_a_path_hidden_by_the_sandbox_counts_only_when_it_exists_here() -> None:
    out = run(
        suggested(
            Access("/tmp/shared/data.csv", False, "ENOENT"),
            Access("/nowhere/x", False, "ENOENT"),
            Access(HOME + "/reference/x", False, "ENOTDIR"),
        )
    )
    assert out["profile"] == {"filesystem": {"allowRead": ["/tmp/shared"]}}


def test_the_deny_list_and_the_state_directory_are_never_suggested() -> None:
    out = run(
        suggested(
            Access(HOME + "/.ssh/id_rsa", False, "EACCES"),
            Access(HOME + "/.ssh/known_hosts", True, "EACCES"),
            Access(HOME + "/.aws/credentials", False),
            Access("/etc/shadow", False, "EACCES"),
            Access(HOME + "/.mcpgateway/workspace.key", False, "EACCES"),
        )
    )
    assert out["profile"] == {}
    assert out["kept"] == [
        "/etc/shadow (its deny list: never suggested)",
        HOME + "/.mcpgateway (the gateway's state directory: never shown)",
        "~/.aws (its deny list: never suggested)",
        "~/.ssh (its deny list: never suggested)",
    ]


def test_hosts_become_allow_list_entries() -> None:
    hosts = {
        ("api.example.com", 443, "asked"),
        ("example.com", 8443, "asked"),
        ("127.0.0.1", 8000, "asked"),
        ("127.0.0.1", 8000, "local"),
        ("127.0.0.1", 9100, "asked"),
        ("localhost", 8000, "local"),
        ("::1", 8080, "asked"),
    }
    found = suggest(suggested(hosts=hosts), BASE, lambda p: False, lambda p: False)
    assert found.allowedDomains == [
        "127.0.0.1:8000",
        "[::1]:8080",
        "api.example.com",
        "example.com:8443",
    ]
    assert "127.0.0.1:9100 is the gateway's own port: never suggested" in found.notes
    assert any(note.startswith("localhost:8000 resolves to a local") for note in found.notes)
    assert (
        found.notes.count(
            "127.0.0.1:8000 is a local address: allow it only if the server must reach it"
        )
        == 1
    )


def test_direct_connections_and_a_missing_strace_are_said() -> None:
    records = Records(
        connections={
            Connection("10.0.0.5", 5432, "ENETUNREACH"),
            Connection("127.0.0.1", 3128),
            Connection("127.0.0.53", 53),
        },
        straced=False,
        truncated=True,
    )
    notes = suggest(records, BASE, lambda p: False, lambda p: False).notes
    assert len(notes) == 3
    assert notes[0].startswith("it connected directly to 10.0.0.5:5432")
    assert "strace is not installed" in notes[1] and "cap" in notes[2]
