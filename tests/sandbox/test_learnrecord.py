"""A learning server's records read back: strace's lines (whole, cut in two
by another process, garbled, cut short) and the proxy's hosts, bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.sandbox import learnrecord, learnrun
from mcpgateway.sandbox.learnrecord import Access, Connection, parseText, unescape

SAMPLE = "".join(
    line + "\n"
    for line in (
        r"""7     openat(AT_FDCWD</srv/w>, "/home/u/reference/notes.txt", O_RDONLY|O_CLOEXEC"""
        r""") = 3</home/u/reference/notes.txt>""",
        r"""7     openat(AT_FDCWD</srv/w>, "/home/u/notes/todo.md", O_WRONLY|O_CREAT|O_APPEN"""
        r"""D|O_CLOEXEC, 0666) = -1 EROFS (Read-only file system)""",
        r"""7     newfstatat(AT_FDCWD</usr>, "lib", {st_mode=S_IFDIR|0755, st_size=4096, ..."""
        r"""}, 0) = 0""",
        r"""7     newfstatat(3</etc/hostname>, "", {st_mode=S_IFREG|0755, st_size=3, ...}, A"""
        r"""T_EMPTY_PATH) = 0""",
        r"""8     openat(AT_FDCWD</a\76b\"c>, "rel", O_RDONLY <unfinished ...>""",
        r"""9     rename("/data/x.tmp", "/data/x") = 0""",
        r"""8     <... openat resumed>) = 3</a\76b\"c/rel>""",
        r"""9     mkdirat(AT_FDCWD</srv/w>, "/home/u/.cache/tool", 0777) = -1 EROFS (Read-on"""
        r"""ly file system)""",
        r"""9     symlink("/anywhere", "/data/link") = 0""",
        r"""9     execve("/usr/bin/python3", ["python3", "x.py"], 0x7ffc /* 20 vars */) = 0""",
        r"""9     readlink("/proc/self/exe", "/usr/bin/python3.11", 4096) = 18""",
        r"""9     connect(3<socket:[624103]>, {sa_family=AF_INET, sin_port=htons(5432), sin_"""
        r"""addr=inet_addr("10.0.0.5")}, 16) = -1 ENETUNREACH (Network is unreachable)""",
        r"""9     connect(4<socket:[6]>, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flo"""
        r"""winfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}"""
        r""", 28) = -1 ENETUNREACH (Network is unreachable)""",
        r"""7     openat(AT_FDCWD</srv/w>, "/home/u/caf\303\251", O_RDONLY) = -1 ENOENT (No """
        r"""such file or directory)""",
        r"""7     openat(AT_FDCWD</srv/w>, "/cut/short""",
        r"""7     +++ exited with 0 +++""",
        r"""garbage line""",
    )
)


def test_each_line_gives_the_paths_it_names_resolved_and_how_they_were_used() -> None:
    events = parseText(SAMPLE)
    assert events == [
        Access("/home/u/reference/notes.txt", False),
        Access("/home/u/notes/todo.md", True, "EROFS"),
        Access("/usr/lib", False),
        Access("/data/x.tmp", True),
        Access("/data/x", True),
        Access('/a>b"c/rel', False),
        Access("/home/u/.cache/tool", True, "EROFS", mkdir=True),
        Access("/data/link", True),
        Access("/usr/bin/python3", False),
        Access("/proc/self/exe", False),
        Connection("10.0.0.5", 5432, "ENETUNREACH"),
        Connection("2001:db8::1", 443, "ENETUNREACH"),
        Access("/home/u/café", False, "ENOENT"),
    ]


def test_a_resumed_call_without_its_first_half_is_skipped() -> None:
    assert parseText('3  <... openat resumed>) = 3</x>\n3  openat(AT_FDCWD, "rel", 0) = 3') == []


def test_unescape_reads_strace_strings() -> None:
    assert unescape(r"a\"b\\c\n\x41\101\0") == 'a"b\\c\nAA\0'
    assert unescape("bad\\") is None and unescape(r"\q") is None and unescape(r"\777") is None
    assert unescape(r"\377") == os.fsdecode(b"\xff")


def escaped(path: bytes) -> str:
    """C{path} as strace prints it."""
    out = []
    for byte in path:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")  # strace pads before a digit; always is read alike
    return "".join(out)


@given(st.binary(min_size=1, max_size=64).filter(lambda b: b"\0" not in b))
def test_every_path_strace_can_print_is_read_back(name: bytes) -> None:
    path = b"/d/" + name
    line = f'12 openat(AT_FDCWD</w>, "{escaped(path)}", O_RDONLY) = -1 EACCES (Permission denied)'
    [event] = parseText(line)
    assert isinstance(event, Access)
    assert event.path == os.path.normpath(os.fsdecode(path)).replace("//", "/")
    assert event.error == "EACCES" and not event.write


@given(st.text(max_size=300))
def test_no_text_breaks_the_parser(text: str) -> None:
    for event in parseText(text):
        assert isinstance(event, Access | Connection)


@given(st.text(alphabet='0123456789 ()<>"\\,{}[]=-AEOT_/abcdx.', max_size=200))
def test_no_line_of_strace_like_pieces_breaks_the_parser(text: str) -> None:
    for event in parseText("7 openat(" + text):
        assert not isinstance(event, Access) or event.path.startswith("/")


@given(st.integers(min_value=1, max_value=len(SAMPLE)))
def test_a_record_cut_anywhere_still_reads(cut: int) -> None:
    assert len(parseText(SAMPLE[:cut])) <= len(parseText(SAMPLE))


def test_the_hosts_record_keeps_well_formed_lines_only() -> None:
    text = "api.x.org 443 asked\n127.0.0.1 8000 local\nbad line\nx 99999 asked\nx ² asked\n"
    assert learnrecord.parseHosts(text) == {
        ("api.x.org", 443, "asked"),
        ("127.0.0.1", 8000, "local"),
    }


def test_read_takes_a_capped_part_of_each_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learnrun, "CAP", 200)
    line = '1 openat(AT_FDCWD</w>, "/data/{}", O_RDONLY) = 3\n'
    (tmp_path / "trace-1").write_text("".join(line.format(i) for i in range(100)))
    (tmp_path / "hosts").write_text("api.x.org 443 asked\n")
    records = learnrecord.read(str(tmp_path))
    assert records.traces == 1 and records.truncated and records.straced
    assert 0 < len(records.accesses) < 10
    assert records.hosts == {("api.x.org", 443, "asked")}


def test_read_says_when_strace_was_missing_and_tolerates_no_directory(tmp_path: Path) -> None:
    (tmp_path / learnrun.NO_STRACE).write_text("")
    assert not learnrecord.read(str(tmp_path)).straced
    empty = learnrecord.read(str(tmp_path / "none"))
    assert empty.traces == 0 and not empty.accesses and empty.straced
