"""Whose C{PATH} a server's "not found" means: the record the commands
that set it leave (who, when), where the gateway's own C{PATH} comes
from, and what C{mcpgateway status} says under such a server (fakes only:
no gateway, no PATH search but a fake one)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.cli.pathnotes import notFoundNotes, originOf, whenOf
from mcpgateway.cli.status import renderStatus
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.runtime.pathrecord import (
    PATH_FROM_ENV,
    PATH_RECORD,
    PathRecord,
    pathOrigin,
    readRecord,
    recordPath,
)
from tests.support.json_values import jsonValues

AT = 1_700_000_000.0
ANY = jsonValues()


def shaped(*keys: str) -> st.SearchStrategy[Any]:
    """Any JSON, or an object with some of C{keys} holding any JSON (or,
    for C{recorded}, such an object itself)."""
    inner = ANY | st.dictionaries(st.sampled_from(["by", "at"]), ANY | st.floats(0, 2**41))
    return ANY | st.dictionaries(st.sampled_from([*keys, "other"]), inner | st.text(max_size=20))


WHEN = time.strftime("%Y-%m-%d %H:%M", time.localtime(AT))
NPX = {"state": "error", "error": "command 'npx' was not found on PATH"}


def stateOf(where: str, by: str | None = "start", gatewayPath: str = "/usr/bin:/bin") -> Any:
    """A gateway's C{state.json}, its C{PATH} from C{where}, the record it
    found made by C{by}."""
    recorded = None if by is None else {"by": by, "at": AT}
    return {
        "pid": 7,
        "port": 9100,
        "startTime": AT + 60,
        "path": {"PATH": gatewayPath, "from": where, "recorded": recorded},
    }


def finder(found: dict[str, str]) -> Any:
    """A C{shutil.which} that finds each command of C{found} where it says,
    on a C{PATH} that holds that folder."""

    def which(command: str, path: str | None = None) -> str | None:
        where = found.get(command)
        if where is None or path is None or where.rsplit("/", 1)[0] not in path.split(":"):
            return None
        return where

    return which


# -- the record -----------------------------------------------------------------------


def test_the_record_says_which_command_made_it_and_when(tmp_path: Path) -> None:
    recordPath(tmp_path, "/home/u/.nvm/bin:/usr/bin", "start", now=lambda: AT)
    assert readRecord(tmp_path) == PathRecord("/home/u/.nvm/bin:/usr/bin", "start", AT)
    recordPath(tmp_path, "/home/u/.nvm/bin:/usr/bin", "start", now=lambda: AT + 5)
    assert readRecord(tmp_path) == PathRecord("/home/u/.nvm/bin:/usr/bin", "start", AT)  # same
    recordPath(tmp_path, "/home/u/.nvm/bin:/usr/bin", "restart", now=lambda: AT + 9)
    assert readRecord(tmp_path) == PathRecord("/home/u/.nvm/bin:/usr/bin", "restart", AT + 9)


def test_a_record_of_an_older_version_is_its_path_alone(tmp_path: Path) -> None:
    (tmp_path / PATH_RECORD).write_text('{"PATH": "/usr/bin"}')
    assert readRecord(tmp_path) == PathRecord("/usr/bin")


@given(shaped("PATH", "by", "at"))
def test_any_record_is_read_or_refused_never_failing(value: Any) -> None:
    """The file is the user's to edit: whatever it holds is checked."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / PATH_RECORD).write_text(json.dumps(value))
        record = readRecord(Path(folder))
    if record is not None:
        assert isinstance(record.path, str) and record.path
        assert record.by in (None, "start", "restart", "service install")
        assert record.at is None or 0 < record.at < 2**40


def test_the_gateway_keeps_where_its_path_comes_from() -> None:
    record = PathRecord("/home/u/bin", "restart", AT)
    environ = {"PATH": "/home/u/bin:/usr/bin", PATH_FROM_ENV: "restart"}
    assert pathOrigin(environ, record) == {
        "PATH": "/home/u/bin:/usr/bin",
        "from": "restart",
        "recorded": {"by": "restart", "at": AT},
    }
    # Started by hand (twistd), or said something that is no origin.
    for said in ({}, {PATH_FROM_ENV: "elsewhere"}):
        assert pathOrigin({"PATH": "/usr/bin", **said}, None)["from"] == "environment"


# -- where it comes from, in words ------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "said"),
    [
        (stateOf("start"), f"that of the shell that ran `mcpgateway start` at {WHEN}"),
        (
            stateOf("bridge"),
            f"recorded from `mcpgateway start` at {WHEN}, then that of the client whose"
            " bridge started it",
        ),
        (stateOf("bridge", by=None), "that of the client whose bridge started it"),
        (
            stateOf("restart", by="restart"),
            f"recorded from `mcpgateway restart` at {WHEN}, then the previous gateway process's",
        ),
        (
            stateOf("service", by="service install"),
            "the service manager's: the PATH `mcpgateway service install` wrote in its unit"
            f" at {WHEN}",
        ),
        (stateOf("environment"), "the environment it was started in, not by `mcpgateway start`"),
        ({"pid": 7}, ""),  # a gateway of an older version does not say
    ],
)
def test_where_the_gateways_path_comes_from_is_said(state: Any, said: str) -> None:
    assert originOf(state) == said


@given(shaped("PATH", "from", "recorded"))
def test_any_state_is_said_in_words_never_failing(value: Any) -> None:
    """C{state.json} is read as outside input."""
    said = originOf({"path": value, "startTime": value})
    assert isinstance(said, str)
    assert isinstance(whenOf(value), str)
    server = {"error": "command 'npx' was not found on PATH"}
    notes = notFoundNotes(server, {"path": value}, {"PATH": "/usr/bin"}, finder({}))
    assert notes[0].startswith("! npx: not found in the gateway's PATH")


# -- under the server -------------------------------------------------------------------


def test_a_command_this_shell_has_is_given_to_the_gateway_by_a_restart_from_it() -> None:
    shell = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    notes = notFoundNotes(NPX, stateOf("start"), shell, finder({"npx": "/usr/local/bin/npx"}))
    assert notes == [
        f"! npx: not found in the gateway's PATH (that of the shell that ran `mcpgateway start`"
        f" at {WHEN})",
        "  your shell's PATH has it at /usr/local/bin/npx: run `mcpgateway restart` from this"
        " shell (the gateway then runs with this shell's PATH first)",
    ]


def test_a_command_put_since_in_a_folder_the_gateway_has_needs_a_restart_only() -> None:
    state = stateOf("start", gatewayPath="/usr/local/bin:/usr/bin")
    notes = notFoundNotes(
        NPX, state, {"PATH": "/usr/local/bin"}, finder({"npx": "/usr/local/bin/npx"})
    )
    assert "in a folder the gateway's PATH has too" in notes[1]


def test_a_service_is_also_installed_again_from_this_shell() -> None:
    state = stateOf("service", by="service install")
    notes = notFoundNotes(
        NPX, state, {"PATH": "/opt/node/bin"}, finder({"npx": "/opt/node/bin/npx"})
    )
    assert notes[-1] == (
        "  and `mcpgateway service install` from this shell, for the service manager's next start"
    )


def test_a_command_nowhere_is_to_be_installed() -> None:
    notes = notFoundNotes(NPX, stateOf("bridge"), {"PATH": "/usr/bin"}, finder({}))
    assert notes[1] == (
        "  nor in your shell's PATH: install it, or give its full path as the entry's \"command\""
    )


@pytest.mark.parametrize(
    "error",
    [
        "command 'npx' was not found on the PATH its entry sets",  # not the gateway's PATH
        "command '/opt/x/npx' was not found",
        "hidden: the open /health of a gateway reachable from other machines does not show it",
        None,
    ],
)
def test_other_errors_say_nothing_of_the_gateways_path(error: str | None) -> None:
    server = {"state": "error", "error": error}
    assert notFoundNotes(server, stateOf("start"), {"PATH": "/usr/bin"}, finder({})) == []


def test_status_says_it_under_the_server(tmp_path: Path) -> None:
    found = GatewayProbe(tmp_path, stateOf("bridge"))
    lines = renderStatus(found, {"servers": {"files": NPX}}, [], environ={"PATH": "/nowhere"})
    at = next(i for i, line in enumerate(lines) if line.startswith("  ") and " files " in line)
    assert lines[at + 1].startswith("      ! npx: not found in the gateway's PATH (recorded from")
    assert lines[at + 2].startswith("        nor in your shell's PATH")
