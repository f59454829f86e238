"""config.envfiles: the layers of a child's environment, and .env files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.config.deniedenv import isDenied
from mcpgateway.config.envfiles import (
    EMPTY_DIGEST,
    MAX_BYTES,
    NAME,
    EnvFile,
    changed,
    digestOf,
    expansionEnvironment,
    onlyListed,
    overlay,
    parseEnv,
    readEnvFile,
    readGatewayEnv,
    readWorkspaceEnv,
    refresh,
    resolveEnvironment,
)
from mcpgateway.core.environment import isGatewayOwn

SECRET = "s3cr3t-value-never-shown"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- the resolution order -------------------------------------------------------------


def test_the_workspace_env_wins_then_the_gateway_env_then_the_entry_then_the_environment(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    write(workspace / ".env", "ONE=workspace\n")
    write(state / ".env", "ONE=gateway\nTWO=gateway\n")
    entry = {"ONE": "entry", "TWO": "entry", "THREE": "entry"}
    base = {
        "ONE": "base",
        "TWO": "base",
        "THREE": "base",
        "FOUR": "base",
        "MCPGATEWAY_API_TOKEN": "gateway secret",
        "LISTEN_FDS": "3",
    }
    env = resolveEnvironment(base, entry, readGatewayEnv(state), readWorkspaceEnv(workspace))
    assert env == {"ONE": "workspace", "TWO": "gateway", "THREE": "entry", "FOUR": "base"}
    assert overlay(entry.items(), readGatewayEnv(state), readWorkspaceEnv(workspace)) == (
        ("ONE", "workspace"),
        ("THREE", "entry"),
        ("TWO", "gateway"),
    )


def test_no_file_means_the_entry_over_the_environment(tmp_path: Path) -> None:
    env = resolveEnvironment(
        {"PATH": "/bin", "A": "base"},
        (("A", "entry"),),
        readGatewayEnv(tmp_path),
        readWorkspaceEnv(tmp_path / "no-such-workspace"),
    )
    assert env == {"PATH": "/bin", "A": "entry"}
    assert resolveEnvironment({"A": "base"}, {}) == {"A": "base"}


def test_dollar_vars_of_an_entry_expand_from_the_files_over_the_environment(
    tmp_path: Path,
) -> None:
    write(tmp_path / ".env", "TOKEN=from-workspace\n")
    gateway = EnvFile("g", (("TOKEN", "from-gateway"), ("REGION", "eu")))
    env = expansionEnvironment({"TOKEN": "base", "HOME": "/h"}, gateway, readWorkspaceEnv(tmp_path))
    assert env == {"TOKEN": "from-workspace", "REGION": "eu", "HOME": "/h"}


# -- reading a file ---------------------------------------------------------------------


def test_a_missing_file_is_empty_and_says_nothing(tmp_path: Path) -> None:
    for path in (tmp_path / ".env", tmp_path / "missing-dir" / ".env"):
        env = readEnvFile(path)
        assert env.values == () and env.warning is None and env.stamp is None
        assert env.digest == EMPTY_DIGEST
    (tmp_path / "file").write_text("")
    assert readEnvFile(tmp_path / "file" / ".env").warning is None  # a file as directory


def test_values_are_literal_no_interpolation(tmp_path: Path) -> None:
    """A workspace's file must not copy the gateway's own secrets, or anything
    of its environment, into a child."""
    os.environ["MCPGATEWAY_TEST_SECRET"] = SECRET
    try:
        env = readEnvFile(write(tmp_path / ".env", "A=${MCPGATEWAY_TEST_SECRET}\nB=${HOME}\n"))
    finally:
        del os.environ["MCPGATEWAY_TEST_SECRET"]
    assert env.asDict() == {"A": "${MCPGATEWAY_TEST_SECRET}", "B": "${HOME}"}


def test_the_syntax_is_python_dotenvs(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "export PLAIN=one\n"
        "SPACED = two  # trailing comment\n"
        "SINGLE='single # not a comment'\n"
        'DOUBLE="line1\\nline2 \\"q\\""\n'
        'MULTI="a\nb"\n'
        "EMPTY=\n"
        "HASH=#novalue\n"
        "BARE\n"
        "DUP=first\n"
        "DUP=second\n"
    )
    env = readEnvFile(write(tmp_path / ".env", text))
    expected = {k: v for k, v in dotenv_values(stream=io.StringIO(text), interpolate=False).items()}
    assert env.asDict() == {k: v for k, v in expected.items() if v is not None}
    assert env.asDict()["DOUBLE"] == 'line1\nline2 "q"'
    assert env.asDict()["DUP"] == "second"
    assert "BARE" not in env.asDict()
    assert env.warning is None


def test_a_bom_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfTOKEN=x\n")
    assert readEnvFile(tmp_path / ".env").asDict() == {"TOKEN": "x"}


def test_bad_lines_give_one_warning_with_line_numbers_never_text(tmp_path: Path) -> None:
    text = (
        f"GOOD={SECRET}\n"
        f"this is not an assignment {SECRET}\n"
        f"'bad name'={SECRET}\n"
        f'UNTERMINATED="{SECRET}\n'
    )
    env = readEnvFile(write(tmp_path / ".env", text))
    assert env.asDict() == {"GOOD": SECRET}
    assert env.warning is not None
    assert env.warning.startswith(f"{tmp_path / '.env'}: skipped lines")
    assert SECRET not in env.warning
    assert SECRET not in repr(env) and SECRET not in str(env)
    assert "2" in env.warning and "3" in env.warning


def test_a_value_with_nul_is_skipped(tmp_path: Path) -> None:
    env = readEnvFile(write(tmp_path / ".env", 'A="x\\0"\nB="nul\x00inside"\nC=ok\n'))
    assert env.asDict() == {"A": "x\\0", "C": "ok"}
    assert env.warning is not None and "line 2" in env.warning


def test_the_gateways_own_names_are_never_taken_from_a_file(tmp_path: Path) -> None:
    text = "MCPGATEWAY_API_TOKEN=x\nNOTIFY_SOCKET=/run/x\nLISTEN_FDS=3\nOK=1\n"
    for env in (readEnvFile(write(tmp_path / ".env", text)), readWorkspaceEnv(tmp_path)):
        assert env.asDict() == {"OK": "1"}
        assert env.warning is not None
        assert "ignored LISTEN_FDS, MCPGATEWAY_API_TOKEN, NOTIFY_SOCKET" in env.warning


def test_a_workspace_file_cannot_make_the_server_load_other_code(tmp_path: Path) -> None:
    text = "NODE_OPTIONS=--require ./x.js\nLD_PRELOAD=/tmp/x.so\nDYLD_INSERT_LIBRARIES=x\nTOKEN=t\n"
    workspace = readWorkspaceEnv(Path(write(tmp_path / ".env", text)).parent)
    assert workspace.asDict() == {"TOKEN": "t"}
    assert workspace.warning is not None
    for name in ("NODE_OPTIONS", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES"):
        assert name in workspace.warning and isDenied(name)
    assert "may not set what chooses the code a program loads or runs" in workspace.warning
    gateway = readGatewayEnv(tmp_path)  # the user's own file may set them
    assert set(gateway.asDict()) == {"NODE_OPTIONS", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "TOKEN"}
    assert gateway.warning is None


def test_a_file_that_cannot_be_read_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / ".env", f"A={SECRET}\n")
    realOpen = os.open

    def denied(where: str, *args: int) -> int:
        if where == str(path):
            raise PermissionError(13, "Permission denied")
        return realOpen(where, *args)

    monkeypatch.setattr(os, "open", denied)  # (chmod 0 does not stop root)
    env = readEnvFile(path)
    assert env.values == ()
    assert env.warning == f"{path}: cannot be read (Permission denied); not used"
    assert refresh(env) is env  # unchanged: one stat, no second warning


def test_a_fifo_is_never_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".env")  # a blocking read would hang the loading thread forever
    env = readWorkspaceEnv(tmp_path)
    assert env.values == () and env.warning is not None and "not a regular file" in env.warning


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    env = readWorkspaceEnv(tmp_path)
    assert env.warning is not None and "not a regular file" in env.warning


def test_a_huge_file_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"A=" + b"x" * MAX_BYTES + b"\n")
    env = readWorkspaceEnv(tmp_path)
    assert env.values == () and env.warning is not None and "larger than" in env.warning
    assert refresh(env) is env


def test_a_file_that_is_not_utf8_is_one_warning(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"A=ok\nB=\xff\xfe\n")
    env = readWorkspaceEnv(tmp_path)
    assert env.values == () and env.warning is not None and "not UTF-8 (at byte 7)" in env.warning


def test_a_path_that_names_no_file(tmp_path: Path) -> None:
    env = readEnvFile("/tmp/a\0b")
    assert env.values == () and env.warning is not None and "not a file name" in env.warning
    assert refresh(env).values == ()


# -- telling changes apart ---------------------------------------------------------------


def test_refresh_is_one_stat_while_nothing_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = readWorkspaceEnv(Path(write(tmp_path / ".env", "A=1\n")).parent)
    opened: list[str] = []
    realOpen = os.open

    def spy(path: str, *args: int) -> int:
        opened.append(path)
        return realOpen(path, *args)

    monkeypatch.setattr(os, "open", spy)
    assert refresh(env) is env
    assert opened == []


def test_a_changed_value_changes_the_digest_a_comment_does_not(tmp_path: Path) -> None:
    path = write(tmp_path / ".env", "TOKEN=one\n")
    first = readWorkspaceEnv(tmp_path)
    write(path, "# who set this\nTOKEN=one\n")
    second = refresh(first)
    assert second is not first and second.stamp != first.stamp
    assert not changed(first, second)
    assert refresh(second) is second
    write(path, "TOKEN=two\n# padding!!\n")
    third = refresh(second)
    assert changed(second, third) and third.asDict() == {"TOKEN": "two"}
    assert third.workspace  # read again by the same rules
    path.unlink()
    gone = refresh(third)
    assert changed(third, gone) and gone.values == () and gone.warning is None
    assert refresh(gone) is gone
    write(path, "TOKEN=three\n")
    assert changed(gone, refresh(gone))


def test_digests_ignore_order_and_tell_values_apart() -> None:
    assert digestOf({"A": "1", "B": "2"}) == digestOf((("B", "2"), ("A", "1")))
    assert digestOf({"A": "1"}) != digestOf({"A": "2"})
    assert digestOf({}) == EMPTY_DIGEST


# -- anything a file may hold ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.booleans())
def test_any_text_parses_to_usable_variables(text: str, workspace: bool) -> None:
    parsed = parseEnv(text, denyWorkspace=workspace)
    for name, value in parsed.values.items():
        assert NAME.fullmatch(name)
        assert "\0" not in value
        assert not isGatewayOwn(name)
        assert not (workspace and isDenied(name))
    for problem in parsed.problems():
        for value in parsed.values.values():
            if len(value) > 3:
                assert value not in problem


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_in_a_file_are_read_without_raising(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    root = tmp_path_factory.getbasetemp() / "any-bytes"
    root.mkdir(exist_ok=True)
    (root / ".env").write_bytes(data)
    env = readWorkspaceEnv(root)
    assert all(NAME.fullmatch(name) for name in env.names)
    assert all("\0" not in value for _, value in env.values)
    assert (env.warning is None) or env.warning.startswith(str(root / ".env"))


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not isGatewayOwn(n) and n != "export"
)
_values = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=40
)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_names, _values, max_size=6))
def test_what_is_written_quoted_is_read_back(values: dict[str, str]) -> None:
    text = "".join(f"{name}={_quoted(value)}\n" for name, value in values.items())
    parsed = parseEnv(text)
    assert parsed.values == values
    assert parsed.badLines == () and parsed.refused == ()


def test_a_workspace_env_may_not_move_path(tmp_path: Path) -> None:
    """A cloned repository's .env with PATH=./bin would have the gateway
    launch the repository's own npx instead of the user's."""
    (tmp_path / ".env").write_text("PATH=/repo/bin\nTOKEN=t\n")
    found = readWorkspaceEnv(tmp_path)
    assert dict(found.values) == {"TOKEN": "t"}
    assert found.warning is not None and "PATH" in found.warning


@given(
    st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True), st.text(max_size=5)),
    st.sets(st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True)),
)
def test_only_listed_names_of_a_workspace_file_pass(
    values: dict[str, str], listed: set[str]
) -> None:
    pairs = tuple(sorted(values.items()))
    file = EnvFile("/w/.env", pairs, digest=digestOf(pairs), workspace=True)
    kept, left = onlyListed(file, listed)
    assert set(kept.names) == set(values) & listed
    assert set(left) == set(values) - listed
    assert kept.digest == digestOf(tuple(sorted((n, values[n]) for n in kept.names)))
