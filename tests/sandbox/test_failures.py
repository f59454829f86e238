"""A confined child's stderr (and its tools' error results), read for what
the sandbox refused: each kind told in one line that names the key allowing
it, one that works (or that nothing does); any other line, nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.failures import (
    DEEP_TMP,
    IP_REFUSED,
    UNIX_CONNECT,
    UNIX_REFUSED,
    deniedPath,
    explain,
    hostOf,
    unseenNote,
    unseenPath,
)
from mcpgateway.sandbox.launch import NO_LIBSECCOMP, SOCKET_ONLY

HOME = "/home/u"
STATE = "/home/u/.mcpgateway"


def note(line: str, network: str = "none") -> str | None:
    return explain(line, network, HOME, STATE)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (
            "Error: EACCES: permission denied, open '/home/u/.ssh/id_rsa'",
            "the sandbox hides ~/.ssh/id_rsa (its deny list has ~/.ssh): naming that entry"
            ' itself lifts the mask for this server: "sandbox": {"filesystem": {"allowRead":'
            ' ["~/.ssh"]}}',
        ),
        (
            "PermissionError: [Errno 13] Permission denied: '/home/u/.mcpgateway/state.json'",
            "the sandbox never shows a server the gateway's state directory"
            " (~/.mcpgateway/state.json): nothing allows it",
        ),
        (
            "Error: EROFS: read-only file system, open"
            " '/home/u/.mcpgateway/npx/m/node_modules/mem/dist/memory.jsonl.9a8b7c6d5e4f.tmp'",
            "the sandbox lets a child write in the package it runs"
            " (~/.mcpgateway/npx/m/node_modules/mem/dist/memory.jsonl.9a8b7c6d5e4f.tmp) only"
            " when everyone who calls its server shares that child: that code runs in every"
            " child of the server; name a place for its data in its entry (a variable such as"
            " MEMORY_FILE_PATH, docs/guide/sandbox.md), which its children then share",
        ),
        (
            "Error: EACCES: permission denied, open"
            " '/home/u/.mcpgateway/npx/m/node_modules/mem/dist/memory.jsonl.9a8b7c6d5e4f.tmp'",
            "the sandbox lets a child write in the package it runs"
            " (~/.mcpgateway/npx/m/node_modules/mem/dist/memory.jsonl.9a8b7c6d5e4f.tmp) only"
            " when everyone who calls its server shares that child: that code runs in every"
            " child of the server; name a place for its data in its entry (a variable such as"
            " MEMORY_FILE_PATH, docs/guide/sandbox.md), which its children then share",
        ),
        (
            "Error: EACCES: permission denied, open '/home/u/.mcpgateway/uvx/other/lib/x.py'",
            "the sandbox never shows a server the gateway's state directory"
            " (~/.mcpgateway/uvx/other/lib/x.py): nothing allows it",
        ),
        (
            "Error: EROFS: read-only file system, open '/srv/data/out.txt'",
            'the sandbox denied writing /srv/data/out.txt: allow it with "sandbox":'
            ' {"filesystem": {"allowWrite": ["/srv/data/out.txt"]}}',
        ),
        (
            "OSError: [Errno 30] Read-only file system: '/work/x'",
            'the sandbox denied writing /work/x: allow it with "sandbox": {"filesystem":'
            ' {"allowWrite": ["/work/x"]}}',
        ),
        (
            "Error: EACCES: permission denied, mkdir '/opt/cache'",
            'the sandbox denied writing /opt/cache: allow it with "sandbox": {"filesystem":'
            ' {"allowWrite": ["/opt/cache"]}}',
        ),
        (
            "Error: EROFS: read-only file system, open '/home/u/code/p/.claude/settings.json'",
            "the sandbox keeps ~/code/p/.claude read-only for a repository's own server"
            " (~/code/p/.claude/settings.json): git or a client runs what it holds as you,"
            ' outside any sandbox; a server that must write it asks with "sandbox":'
            ' {"filesystem": {"allowWrite": ["~/code/p/.claude"]}} in its entry, which takes'
            " your approval (mcpgateway sandbox approve)",
        ),
        (
            "OSError: [Errno 30] Read-only file system: '/work/p/.git/config.1a2b3c4d5e6f.tmp'",
            "the sandbox keeps /work/p/.git read-only for a repository's own server"
            " (/work/p/.git/config.1a2b3c4d5e6f.tmp): git or a client runs what it holds as"
            ' you, outside any sandbox; a server that must write it asks with "sandbox":'
            ' {"filesystem": {"allowWrite": ["/work/p/.git"]}} in its entry, which takes your'
            " approval (mcpgateway sandbox approve)",
        ),
        (
            "cat: /srv/secret: Permission denied",
            'the sandbox denied reading /srv/secret: allow it with "sandbox": {"filesystem":'
            ' {"allowRead": ["/srv/secret"]}} (allowWrite if it writes there)',
        ),
        (
            "Error: ENOENT: no such file or directory, open '/home/u/notes/a.md'",
            "~/notes/a.md is not visible in the sandbox (the home directory is hidden): allow it"
            ' with "sandbox": {"filesystem": {"allowRead": ["~/notes/a.md"]}}',
        ),
        (
            "Error: getaddrinfo EAI_AGAIN api.github.com",
            'the sandbox has no network (it tried api.github.com): allow it with "sandbox":'
            ' {"network": {"allowedDomains": ["api.github.com"]}}',
        ),
        (
            "socket.gaierror: [Errno -3] Temporary failure in name resolution",
            'the sandbox has no network: add the host it needs to "sandbox": {"network":'
            ' {"allowedDomains": [...]}} (its error does not name it; "sandbox": "learn"'
            " records the hosts it asks for)",
        ),
        (
            "Error: spawn EAGAIN",
            'it reached the sandbox\'s process limit: raise it with "sandbox": {"limits":'
            ' {"processes": 1024}}',
        ),
        (
            "bwrap: Creating new namespace failed: Operation not permitted",
            "bubblewrap could not start it: Creating new namespace failed: Operation not"
            " permitted (`mcpgateway sandbox check` says why; --sandbox off, or"
            ' "sandbox": false in its entry, runs it unconfined)',
        ),
        (
            "bwrap: Can't mkdir parents for /h/.mcpgateway/npx/x: Read-only file system",
            "bubblewrap could not make this child's view: Can't mkdir parents for"
            " /h/.mcpgateway/npx/x: Read-only file system (`mcpgateway sandbox show NAME`"
            " prints what it binds and masks; /h/.mcpgateway/npx/x is the path in question;"
            ' "sandbox": false in its entry runs it unconfined)',
        ),
        (
            "bwrap: Can't chdir to /srv/state: Permission denied",
            "bubblewrap could not make this child's view: Can't chdir to /srv/state:"
            " Permission denied (`mcpgateway sandbox show NAME` prints what it binds and"
            ' masks; /srv/state is the path in question; "sandbox": false in its entry runs'
            " it unconfined)",
        ),
        (
            "mcpgateway sandbox: " + NO_LIBSECCOMP,
            "the sandbox runs it with less than asked: " + NO_LIBSECCOMP,
        ),
        (
            "mcpgateway sandbox: " + SOCKET_ONLY,
            "the sandbox runs it with less than asked: " + SOCKET_ONLY,
        ),
        (
            "mcpgateway sandbox: cannot confine the server: landlock_restrict_self: x",
            "the sandbox could not start it: cannot confine the server: landlock_restrict_self:"
            ' x ("sandbox": false in its entry runs it unconfined)',
        ),
    ],
)
def test_each_refusal_is_told_with_the_key_that_allows_it(line: str, words: str) -> None:
    assert note(line) == words


@pytest.mark.parametrize(
    "line",
    [
        "Error: EACCES: permission denied, open '/opt/m/dist/memory.jsonl.6fcb4792e7b07113c9.tmp'",
        "Error: EROFS: read-only file system, open '/opt/m/dist/memory.jsonl.fe0179ce6db43dcd.tmp'",
        "PermissionError: [Errno 13] Permission denied: '/opt/m/dist/.#memory.jsonl'",
    ],
)
def test_a_refused_temporary_file_asks_for_its_folder(line: str) -> None:
    """A temporary file is written beside its target and renamed over it:
    its own name changes every time, so the fix is its folder, writable
    (Landlock's EACCES on creating it is a write too)."""
    said = note(line)
    assert said is not None and said.startswith("the sandbox denied writing /opt/m/dist/")
    assert said.endswith('allow it with "sandbox": {"filesystem": {"allowWrite": ["/opt/m/dist"]}}')


# -- the fix is one that works ------------------------------------------------------


@pytest.mark.parametrize("entry", defaults.DENY_SYSTEM)
@pytest.mark.parametrize(
    "shape",
    [
        "Error: EACCES: permission denied, open '{}'",
        "PermissionError: [Errno 13] Permission denied: '{}'",
        "cat: {}: Permission denied",
        "OSError: [Errno 30] Read-only file system: '{}'",
    ],
)
def test_a_system_secret_is_never_shown_and_no_key_is_offered(entry: str, shape: str) -> None:
    """Nothing lifts the system's deny list (layout._masks masks each of
    DENY_SYSTEM whatever the profile): no allowRead may be suggested."""
    told = note(shape.format(entry + "/x" if entry.endswith(".d") else entry))
    assert told is not None
    assert "never shows" in told and "nothing allows it" in told
    assert "allowRead" not in told and "allowWrite" not in told


@pytest.mark.parametrize("entry", defaults.DENY_HOME)
def test_a_home_deny_list_path_names_the_entry_whose_allow_lifts_its_mask(entry: str) -> None:
    """Only an allow naming the deny list's entry itself lifts its mask
    (layout._masks: the entry's real path among the allowed): the line
    names that entry, for a path under it as for the entry."""
    inside = HOME + entry[1:] + "/inner"
    told = note(f"Error: EACCES: permission denied, open '{inside}'")
    assert told is not None
    assert f'"allowRead": ["{entry}"]' in told and "naming that entry itself" in told


def test_a_refused_write_in_the_home_deny_list_names_allow_write() -> None:
    told = note("Error: EROFS: read-only file system, open '/home/u/.aws/credentials'")
    assert told is not None and '"allowWrite": ["~/.aws"]' in told


@pytest.mark.parametrize(
    "line",
    [
        "OSError: [Errno 30] Read-only file system: '/data/out.txt'",
        "Error: EROFS: read-only file system, open '/data/out.txt'",
        "Error: EACCES: permission denied, rename '/data/out.txt'",
        "Error writing file: PermissionError: [Errno 13] Permission denied: '/data/out.txt'",
        "touch: cannot touch '/data/out.txt': Permission denied",
        "cannot create /data/out.txt: Permission denied",
        "sh: 1: cannot create /data/out.txt: Read-only file system",
        "failed to save: [Errno 1] Operation not permitted: '/data/out.txt'",
    ],
)
def test_a_refused_write_suggests_allow_write_never_allow_read(line: str) -> None:
    told = note(line)
    assert told is not None
    assert '"allowWrite": ["/data/out.txt"]' in told and "allowRead" not in told


def test_a_refused_read_suggests_allow_read() -> None:
    told = note("PermissionError: [Errno 13] Permission denied: '/data/in.txt'")
    assert told is not None and '"allowRead": ["/data/in.txt"]' in told


@pytest.mark.parametrize(
    ("line", "host"),
    [
        ("Error: getaddrinfo ENOTFOUND api.github.com", "api.github.com"),
        (
            "HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded (Caused by"
            " NameResolutionError(\"Failed to resolve 'pypi.org' ([Errno -3] Temporary"
            ' failure in name resolution)"))',
            "pypi.org",
        ),
        ("curl: (6) Could not resolve host: example.org", "example.org"),
        (
            "dial tcp: lookup proxy.golang.org on 127.0.0.53:53: no such host",
            "proxy.golang.org",
        ),
        ("dial tcp: lookup Sum.Golang.org.: no such host", "sum.golang.org"),
        # The fetch server's own words (mcp-server-fetch), robots.txt first.
        (
            "Failed to fetch robots.txt https://docs.python.org/robots.txt due to a"
            " connection issue",
            "docs.python.org",
        ),
        (
            "Failed to fetch https://Docs.Python.org/3/: ConnectError('[Errno -3] Temporary"
            " failure in name resolution')",
            "docs.python.org",
        ),
    ],
)
def test_a_network_refusal_names_the_host_the_error_names(line: str, host: str) -> None:
    told = note(line)
    assert told is not None
    assert f'"allowedDomains": ["{host}"]' in told and "example.com" not in told


@pytest.mark.parametrize(
    "line",
    [
        "urlopen error [Errno -3] Temporary failure in name resolution",
        "connect ENETUNREACH 140.82.112.3:443",
        "Error: getaddrinfo EAI_AGAIN 10.0.0.1",
    ],
)
def test_a_network_refusal_without_a_host_says_to_add_the_one_it_needs(line: str) -> None:
    told = note(line)
    assert told is not None
    assert "add the host it needs" in told and "example.com" not in told
    assert '"sandbox": "learn"' in told


def test_host_of_takes_names_only() -> None:
    assert hostOf("getaddrinfo ENOTFOUND registry.npmjs.org") == "registry.npmjs.org"
    assert hostOf("getaddrinfo ENOTFOUND localhost") is None
    assert hostOf("getaddrinfo ENOTFOUND 10.1.2.3") is None
    assert hostOf("nothing here") is None


# -- what a tool's error result needs besides -----------------------------------------


def test_the_denied_path_is_what_a_refusal_is_known_by() -> None:
    assert deniedPath("Error: EROFS: read-only file system, open '/x/y'") == "/x/y"
    assert deniedPath("[Errno 13] Permission denied: '/a b/c'") == "/a b/c"
    assert deniedPath("Error: getaddrinfo EAI_AGAIN x.org") is None


@pytest.mark.parametrize(
    ("line", "found"),
    [
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/srv/in.txt'",
            ("/srv/in.txt", False),
        ),
        (
            "cannot write: [Errno 2] No such file or directory: '/tmp/pytest/out.txt'",
            ("/tmp/pytest/out.txt", True),
        ),
        ("Error: ENOENT: no such file or directory, mkdir '/data/new'", ("/data/new", True)),
        ("[Errno 2] No such file or directory: '/home/u/x'", None),  # the home: explain's
        ("[Errno 2] No such file or directory: '/proc/1/x'", None),  # its own
        ("[Errno 2] No such file or directory: 'relative'", None),
        ("[Errno 13] Permission denied: '/srv/x'", None),  # not a file not found
    ],
)
def test_a_file_not_found_outside_the_home_is_left_to_a_look_on_this_machine(
    line: str, found: tuple[str, bool] | None
) -> None:
    assert unseenPath(line, HOME) == found


def test_an_unseen_path_that_exists_here_is_told_with_its_fix() -> None:
    assert unseenNote("/srv/in.txt", False, "/srv/in.txt", HOME) == (
        "/srv/in.txt exists on this machine but not in the sandbox: allow it with"
        ' "sandbox": {"filesystem": {"allowRead": ["/srv/in.txt"]}}'
    )
    assert unseenNote("/home/u/w/out", True, "/home/u/w", HOME) == (
        "~/w, where it would make ~/w/out, exists on this machine but not in the sandbox:"
        ' allow it with "sandbox": {"filesystem": {"allowWrite": ["~/w"]}}'
    )


@pytest.mark.parametrize(
    ("line", "socket"),
    [
        (
            "docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
            " Is the docker daemon running?",
            "unix:///var/run/docker.sock",
        ),
        (
            'Error: unable to connect to Podman socket: Get "http://d/v5.0.0/libpod/_ping":'
            " dial unix /run/user/1000/podman/podman.sock: connect: no such file or directory",
            None,
        ),
        (
            "Cannot connect to Podman. Is the service running at"
            " unix:///run/user/1000/podman/podman.sock?",
            "unix:///run/user/1000/podman/podman.sock",
        ),
        ("Error: unable to connect to Podman socket: failed to connect", None),
    ],
)
def test_a_container_runtime_without_its_socket_is_told_its_container_confines_it(
    line: str, socket: str | None
) -> None:
    told = note(line)
    assert told is not None
    assert '"sandbox": false' in told and "confined by its container" in told
    assert (f"(it tried {socket})" in told) if socket else ("it tried" not in told)


CHROMIUM = (
    "[pid=4242][err] [4242:4242:1127/073245.341107:FATAL:chrome/browser/process_singleton_"
    "posix.cc:297] Check failed: . socket() failed: Address family not supported by protocol"
    " (97)"
)
"""What Chromium writes as it dies under Landlock with network (its
single-instance socket refused), as Playwright passes it on."""


@pytest.mark.parametrize("network", ["allow", "host", "proxy"])
def test_a_unix_socket_refused_under_landlock_with_network_says_what_runs_it(
    network: str,
) -> None:
    told = explain(CHROMIUM, network, HOME, STATE, "landlock")
    assert told == UNIX_REFUSED
    assert "Chromium" in told and "bubblewrap runs it" in told
    # status and doctor print 400 characters of a line, after its server and the
    # "likely because of the sandbox" words.
    assert len(told) <= 320
    assert "without network" in told and '"syscalls": "unfiltered"' in told
    node = "Error: connect EAFNOSUPPORT /run/user/1000/bus"
    assert explain(node, network, HOME, STATE, "landlock") == UNIX_REFUSED


def test_an_ip_socket_refused_under_landlock_without_network_asks_for_its_hosts() -> None:
    told = explain(CHROMIUM, "none", HOME, STATE, "landlock")
    assert told == IP_REFUSED and "allowedDomains" in told


def test_a_socket_path_too_long_under_landlock_names_the_temporary_directory() -> None:
    deep = "/home/u/.mcpgateway/sandbox/chrome-devtools-mcp/tmp/4194301/org.chromium.x/S"
    line = (
        f"[1:1:FATAL:chrome/browser/process_singleton_posix.cc:315] Socket path too long: {deep}."
    )
    assert explain(line, "none", HOME, STATE, "landlock") == DEEP_TMP
    assert "107 bytes" in DEEP_TMP and "MCPGATEWAY_HOME" in DEEP_TMP
    assert explain(line, "none", HOME, STATE, "bwrap") is None


@pytest.mark.parametrize(
    "line",
    [
        "Error: async initializeServer: connect ECONNREFUSED /home/u/.mcpgateway/sandbox/pw/tmp"
        "/31154/pw-7505d64a/browser/browser-6ae452.sock",
        "ConnectionRefusedError: [Errno 111] Connection refused",
    ],
)
def test_a_refused_connect_under_landlock_without_network_is_the_filters(line: str) -> None:
    """Playwright connects to its own browser's socket: said once, whatever
    the child's (its path is not in the line said)."""
    assert explain(line, "none", HOME, STATE, "landlock") == UNIX_CONNECT
    assert "Playwright" in UNIX_CONNECT and '"syscalls": "unfiltered"' in UNIX_CONNECT
    assert explain(line, "host", HOME, STATE, "landlock") is None  # someone's refusal
    assert explain(line, "none", HOME, STATE, "bwrap") is None


@pytest.mark.parametrize("mechanism", [None, "bwrap", "auto"])
def test_a_socket_refused_elsewhere_is_not_said_to_be_landlocks(mechanism: str | None) -> None:
    """Under bubblewrap a UNIX socket is made: the family refused is
    another (a packet socket's)."""
    assert explain(CHROMIUM, "proxy", HOME, STATE, mechanism) is None


@pytest.mark.parametrize(
    "line",
    [
        "Starting default (STDIO) server...",
        "Error: ENOENT: no such file or directory, open '/srv/missing.json'",  # not hidden
        "Error: getaddrinfo EAI_AGAIN api.github.com",  # with the network: not the sandbox's
        "",
    ],
)
def test_other_lines_say_nothing(line: str) -> None:
    network = "host" if "getaddrinfo" in line else "none"
    assert note(line, network) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_line_is_read_without_a_crash(line: str) -> None:
    result = note(line)
    assert result is None or "\n" not in result
    unseenPath(line, HOME)


def test_the_launchers_words_are_the_launchers_own() -> None:
    """The gateway reads the launcher's lines without loading its program."""
    from mcpgateway.sandbox import failures, launch

    for name in ("PREFIX", "NOT_SHOWN", "NOTE", "SOCKET_ONLY", "NO_LIBSECCOMP"):
        assert getattr(failures, name) == getattr(launch, name), name


def test_a_launchers_note_is_no_failure() -> None:
    """A line that tells what the launcher did (it carried a server's data)
    is explained as nothing: no warning that it could not start."""
    from mcpgateway.sandbox import failures

    line = f"{failures.PREFIX}{failures.NOTE}carried what it kept in your own npx install"
    assert failures.explain(line, "none", "/home/u", "/home/u/.mcpgateway") is None


MEMORY = {"/home/u/mem2.jsonl": "MEMORY_FILE_PATH"}
"""A server-memory entry's data file, directly in the home: shown alone."""
MOVED = "MEMORY_FILE_PATH=/home/u/.local/share/memory/mem2.jsonl"


@pytest.mark.parametrize(
    "line",
    [
        "Error: EBUSY: resource busy or locked, rename"
        " '/home/u/mem2.jsonl.43d5aa0b1c.tmp' -> '/home/u/mem2.jsonl'",
        "OSError: [Errno 16] Device or resource busy: '/home/u/mem2.jsonl.1a2b3c4d.tmp'"
        " -> '/home/u/mem2.jsonl'",
        "mv: cannot move '/home/u/mem2.jsonl.new' to '/home/u/mem2.jsonl': Device or resource busy",
        "rename /home/u/mem2.jsonl.tmp /home/u/mem2.jsonl: device or resource busy",
    ],
)
def test_a_rename_onto_a_data_file_shown_alone_names_a_folder_of_its_own(line: str) -> None:
    """Under bubblewrap the file is a mount of its own in the child's empty
    home: writing a temporary file beside it works, renaming it onto the
    file does not (C{EBUSY})."""
    assert explain(line, "none", HOME, STATE, "bwrap", MEMORY, "memory") == (
        "the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, not its folder (your"
        " home): the server's rename of a file onto it was refused (a file shown on its own"
        f" cannot be replaced); give its data a folder of its own: {MOVED}"
    )


def test_a_rename_onto_a_file_alone_is_told_without_knowing_its_entry() -> None:
    line = "Error: EBUSY: resource busy or locked, rename '/home/u/x.json.tmp' -> '/home/u/x.json'"
    told = note(line)
    assert told is not None and told.startswith("the sandbox shows ~/x.json on its own,")
    assert told.endswith("such as /home/u/.local/share/<server>/x.json")
    # A file bound alone elsewhere (an allowWrite of a file): its folder is the fix.
    elsewhere = "OSError: [Errno 16] Device or resource busy: '/data/a.tmp' -> '/data/a.json'"
    assert note(elsewhere) == (
        "the sandbox shows /data/a.json on its own, not its folder: the server's rename of a"
        " file onto it was refused (a file shown on its own cannot be replaced); allow the"
        ' folder with "sandbox": {"filesystem": {"allowWrite": ["/data"]}}'
    )


@pytest.mark.parametrize(
    "line",
    [
        "Error: EACCES: permission denied, open '/home/u/mem2.jsonl.43d5aa.tmp'",
        "PermissionError: [Errno 13] Permission denied: '/home/u/mem2.jsonl.1a2b3c4d.tmp'",
    ],
)
def test_a_file_refused_beside_a_data_file_alone_is_that_datas_folder(line: str) -> None:
    """Under Landlock the home is not the child's to write: the temporary
    file beside its data is refused, never a reason to allow the home."""
    path = line.rsplit("'", 2)[1]
    assert explain(line, "none", HOME, STATE, "landlock", MEMORY, "memory") == (
        "the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, not its folder (your"
        f" home): the server could not make ~{path[len(HOME) :]} beside it (that folder is not"
        f" its to write); give its data a folder of its own: {MOVED}"
    )
    unknown = explain(line, "none", HOME, STATE, "landlock", {}, "memory")
    assert unknown is not None and '"allowWrite": ["~"]' not in unknown
    assert unknown.startswith("the sandbox never lets a server make files directly in your home")
    assert unknown.endswith("such as /home/u/.local/share/memory/")


def test_a_journal_beside_a_database_alone_is_that_databases_folder() -> None:
    alone = {"/home/u/test.db": "--db-path"}
    line = "Error: EACCES: permission denied, open '/home/u/test.db-journal'"
    told = explain(line, "none", HOME, STATE, "landlock", alone, "sq")
    assert told is not None and told.startswith("the sandbox shows ~/test.db (--db-path)")
    # The data file itself refused a write: allowing that file alone is enough.
    itself = "Error: EROFS: read-only file system, open '/home/u/test.db'"
    assert explain(itself, "none", HOME, STATE, "bwrap", alone, "sq") == (
        'the sandbox denied writing ~/test.db: allow it with "sandbox": {"filesystem":'
        ' {"allowWrite": ["~/test.db"]}}'
    )


@pytest.mark.parametrize(
    "line",
    [
        "Database error: attempt to write a readonly database",
        "sqlite3.OperationalError: attempt to write a readonly database",
        "SqliteError: attempt to write a readonly database",
    ],
)
def test_a_database_sqlite_cannot_write_beside_itself_names_its_folder(line: str) -> None:
    alone = {"/home/u/mem.jsonl": "MEMORY_FILE_PATH", "/home/u/test.db": "--db-path"}
    assert explain(line, "none", HOME, STATE, "landlock", alone, "sq") == (
        "the sandbox shows ~/test.db (--db-path) on its own, not its folder (your home): SQLite"
        " cannot write the database there, nor make its journal beside it; give its data a"
        " folder of its own: make /home/u/.local/share/sq, then name --db-path"
        " /home/u/.local/share/sq/test.db"
    )
    # No database of its entry is shown alone: a read-only database of its own making.
    assert explain(line, "none", HOME, STATE, "landlock", MEMORY, "sq") is None
    assert note(line) is None


def test_the_launchers_word_that_a_data_file_is_alone_is_a_warning_as_said() -> None:
    from mcpgateway.sandbox import datafiles, failures

    said = "the sandbox shows ~/mem2.jsonl (MEMORY_FILE_PATH) on its own, writable, ..."
    line = f"{failures.PREFIX}{datafiles.ALONE}{said}"
    assert note(line) == said


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_characters="/'\n\0"), min_size=1, max_size=30).filter(
        lambda name: name not in (".", "..")
    ),
    st.sampled_from(["bwrap", "landlock"]),
)
def test_any_data_file_in_the_home_renamed_onto_is_never_told_to_allow_the_home(
    name: str, mechanism: str
) -> None:
    path = f"{HOME}/{name}"
    alone = {path: "DATA_FILE"}
    lines = [
        f"Error: EBUSY: resource busy or locked, rename '{path}.tmp' -> '{path}'",
        f"Error: EACCES: permission denied, open '{path}.0123456789abcdef.tmp'",
    ]
    for line in lines:
        told = explain(line, "none", HOME, STATE, mechanism, alone, "srv")
        assert told is not None and '"allowWrite": ["~"]' not in told and "\n" not in told
        assert "/home/u/.local/share/srv/" in told


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.dictionaries(st.text(max_size=30), st.text(max_size=12)))
def test_any_line_with_any_data_files_is_read_without_a_crash(
    line: str, alone: dict[str, str]
) -> None:
    result = explain(line, "none", HOME, STATE, "landlock", alone, "srv")
    assert result is None or "\n" not in result
