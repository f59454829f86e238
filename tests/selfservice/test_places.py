"""What the person is shown of the places an added server's environment
names: every value that names a path, its data variables' first (a
confined server is given their folders writable), the others' names only,
and a secret-looking variable's value never unless it is a path."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.deniedenv import isDenied
from mcpgateway.core.envsecrets import secretLooking
from mcpgateway.registry.display import showArgument
from mcpgateway.sandbox.writes import writesThere
from mcpgateway.selfservice.changes import (
    SHOWN_NAMES,
    SHOWN_PATH,
    ChangeError,
    confirmationOf,
    fromCommand,
    namesPlace,
    placesOf,
)
from tests.selfservice.support import YES, FakeGateway, Person, textOf, toolsOver

WRITES = "It may WRITE where its environment says it keeps its data"
READS = "It may read these paths its environment names: "


def question(env: dict[str, str]) -> str:
    return confirmationOf(fromCommand({"name": "helper", "command": "python3", "env": env}))


def test_the_folders_a_server_may_write_are_shown_with_their_values() -> None:
    message = question(
        {"DATA_DIR": "/home/alice/work/otherrepo", "CACHE_DIR": "/home/alice/Documents"}
    )
    lines = message.splitlines()
    assert lines[2] == (
        f"{WRITES} (a confined server is given these writable):"
        " CACHE_DIR=/home/alice/Documents; DATA_DIR=/home/alice/work/otherrepo"
    )
    assert "names only" not in message


def test_other_paths_are_shown_as_read_and_the_rest_by_name_only() -> None:
    message = question(
        {
            "SETTINGS_PATH": "~/.config/x.json",
            "ROOT": "../../elsewhere",
            "MODE": "fast",
            "API_KEY": "abc/def+ghi==",  # a secret with a slash: not a path
            "GITHUB_TOKEN": "ghp_0123456789",
        }
    )
    assert f"{READS}ROOT=../../elsewhere; SETTINGS_PATH='~/.config/x.json'" in message
    assert "Its other environment variables (names only): API_KEY, GITHUB_TOKEN, MODE" in message
    assert "abc/def" not in message and "ghp_" not in message


def test_a_path_is_shown_whatever_its_variable_is_called() -> None:
    message = question({"TOKEN_CACHE_DIR": "/home/alice/.ssh", "API_KEY": "~/Documents"})
    assert f"{READS}API_KEY='~/Documents'; TOKEN_CACHE_DIR=/home/alice/.ssh" in message


def test_a_detour_is_shown_with_the_path_it_comes_to() -> None:
    message = question({"DATA_DIR": "/tmp/x/../../home/alice/Documents/./"})
    assert "DATA_DIR=/tmp/x/../../home/alice/Documents/./ (that is /home/alice/Documents)" in (
        message
    )


def test_a_value_cannot_pass_for_two() -> None:
    message = question({"DATA_DIR": "/tmp/ok; NOTES_DIR=/tmp/fine\nNothing is added"})
    assert "DATA_DIR='/tmp/ok; NOTES_DIR=/tmp/fine⟨1 line break⟩Nothing is added'" in message
    assert message.count("\n") == 3


def test_places_the_question_cannot_show_whole_are_not_taken() -> None:
    for env in (
        {"DATA_DIR": "/" + "a" * SHOWN_PATH},
        {f"P{i}_PATH": f"/p/{i}" for i in range(SHOWN_NAMES + 1)},
    ):
        try:
            fromCommand({"name": "helper", "command": "python3", "env": env})
        except ChangeError as e:
            assert "values naming a path" in str(e)
            assert e.cli is not None and e.cli.startswith("mcpgateway servers add --env ")
        else:
            raise AssertionError(f"taken: {sorted(env)[:2]}")


def test_the_person_is_asked_with_the_paths_and_the_entry_keeps_them() -> None:
    gateway, person = FakeGateway(), Person(YES)
    env = {"DATA_DIR": "/home/alice/work/otherrepo", "CACHE_DIR": "/home/alice/Documents"}
    args = {"name": "helper", "command": "python3", "args": ["/tmp/srv.py"], "env": env}
    result = toolsOver(gateway).call("add_server", args, person)
    assert not result["isError"], textOf(result)
    [(message, _)] = person.asked
    assert "CACHE_DIR=/home/alice/Documents; DATA_DIR=/home/alice/work/otherrepo" in message
    [(_, _, body)] = gateway.changes
    assert body["env"] == env


NAMES = st.from_regex(r"[A-Z][A-Z0-9]{0,6}(_[A-Z0-9]{1,6}){0,3}", fullmatch=True).filter(
    lambda name: not isDenied(name)
)
VALUES = st.text(min_size=1, max_size=40).filter(lambda v: "${" not in v and "\0" not in v)
SEGMENT = st.text(string.ascii_letters + string.digits + "._- ", min_size=1, max_size=12)
PATHS = st.builds(
    lambda start, parts: start + "/".join(parts),
    st.sampled_from(["/", "~/", "./", "../", "~"]),
    st.lists(SEGMENT, min_size=0, max_size=5),
)


@given(st.dictionaries(NAMES, PATHS, max_size=8))
def test_every_path_value_is_shown_whole_under_its_name(env: dict[str, str]) -> None:
    message = question(env)
    writes, reads, rest = placesOf(env)
    assert rest == []
    for name, value in env.items():
        assert f"{name}={showArgument(value)}" in message
        listed = writes if writesThere(name) else reads
        assert any(item.startswith(f"{name}=") for item in listed)


@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_a_value_is_shown_or_its_variable_is_named(env: dict[str, str]) -> None:
    message = question(env)
    writes, reads, rest = placesOf(env)
    assert len(writes) + len(reads) + len(rest) == len(env)
    assert rest == sorted(name for name, value in env.items() if not namesPlace(name, value))
    for name, value in env.items():
        if value.startswith(("/", "~")) or writesThere(name):
            assert f"{name}={showArgument(value)}" in message
        elif secretLooking(name, value):
            assert name in rest
