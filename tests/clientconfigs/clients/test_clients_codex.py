"""Codex: C{[mcp_servers.NAME]} tables in C{config.toml}, comments and order kept;
its C{tool_timeout_sec} served as the request timeout, its C{env_vars} passed
only where they are set."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.clientconfigs.clients.base import ClientFile, Host
from mcpgateway.clientconfigs.clients.codex import Codex
from mcpgateway.config.classification import Overrides
from mcpgateway.config.origins import withOrigins
from mcpgateway.config.scopes import buildScopes
from mcpgateway.config.servers import parseConfig, parseEntry
from mcpgateway.core.environment import isGatewayOwn
from tests.clientconfigs.adoptkit import ENVIRON, KEY, engine, makeHost, urlFor, write
from tests.support.config.scopes import NO_FILE, keys

CONFIG = """# Codex settings
model = "o3"  # the default model
approval_policy = "on-request"

[mcp_servers.fs]
command = "npx"  # the launcher
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { "API_KEY" = "value" }
env_vars = ["API_KEY2"]
startup_timeout_sec = 20
enabled_tools = ["read_file"]

[mcp_servers.docs]
url = "https://example.com/mcp"
bearer_token_env_var = "DOCS_TOKEN"

# a server with its env as a table
[mcp_servers.mem]
command = "mem-server"

[mcp_servers.mem.env]
REGION = "eu"

[profiles.fast]
model = "o4-mini"
"""


def test_adoptAndRestore(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    path = write(host.home / ".codex" / "config.toml", CONFIG, 0o600)
    gateway = engine(tmp_path, [Codex()], host)

    report = gateway.adopt(urlFor)

    assert report.files[0].adopted == ["fs", "mem"], report.messages()
    text = path.read_text()
    data = tomlkit.parse(text).unwrap()
    assert data["mcp_servers"]["fs"] == {
        "url": "http://127.0.0.1:9100/fs/mcp",
        "startup_timeout_sec": 20,
        "enabled_tools": ["read_file"],
    }
    assert data["mcp_servers"]["mem"] == {"url": "http://127.0.0.1:9100/mem/mcp"}
    assert data["mcp_servers"]["docs"]["bearer_token_env_var"] == "DOCS_TOKEN"
    assert "type" not in data["mcp_servers"]["fs"]
    assert "# the default model" in text and "# Codex settings" in text
    assert data["profiles"] == {"fast": {"model": "o4-mini"}}
    served = gateway.servedDocument()["mcpServers"]
    assert served["fs"]["env"] == {"API_KEY": "value"}
    assert served["fs"]["envFrom"] == ["API_KEY2"]  # passed only where it is set
    assert served["mem"] == {"command": "mem-server", "env": {"REGION": "eu"}}
    assert path.stat().st_mode & 0o777 == 0o600

    gateway.restore()

    assert path.read_text() == CONFIG


def test_codexHomeAndProjectFile(tmp_path: Path) -> None:
    host = makeHost(tmp_path)
    host = type(host)(host.home, "linux", {"CODEX_HOME": str(tmp_path / "ch")}, host.root)
    user = write(tmp_path / "ch" / "config.toml", "[mcp_servers.a]\ncommand = 'a'\n")
    project = tmp_path / "repo"
    local = write(project / ".codex" / "config.toml", "[mcp_servers.b]\ncommand = 'b'\n")
    gateway = engine(tmp_path, [Codex()], host, projects=[project])
    gateway.adopt(urlFor)
    assert tomlkit.parse(user.read_text()).unwrap() == {
        "mcp_servers": {"a": {"url": "http://127.0.0.1:9100/a/mcp"}}
    }
    assert tomlkit.parse(local.read_text()).unwrap() == {
        "mcp_servers": {"b": {"url": f"http://127.0.0.1:9100/b~{KEY}/mcp"}}
    }


def test_restoreAfterTheUserEditedElsewhereKeepsTheEdit(tmp_path: Path) -> None:
    """Another program changed the file while adopted: no byte-for-byte undo,
    each entry put back in place, the other program's change kept."""
    host = makeHost(tmp_path)
    path = write(host.home / ".codex" / "config.toml", CONFIG)
    gateway = engine(tmp_path, [Codex()], host)
    gateway.adopt(urlFor)
    path.write_text(path.read_text().replace('model = "o3"', 'model = "gpt-5"'))

    report = gateway.restore()

    assert sorted(report.files[0].restored) == ["fs", "mem"]
    data = tomlkit.parse(path.read_text()).unwrap()
    assert data["model"] == "gpt-5"
    assert data["mcp_servers"]["fs"]["command"] == "npx"
    assert data["mcp_servers"]["fs"]["env_vars"] == ["API_KEY2"]
    assert data["mcp_servers"]["mem"] == {"command": "mem-server", "env": {"REGION": "eu"}}
    assert "# the default model" in path.read_text()


# -- tool_timeout_sec: the gateway waits as long as Codex does --------------------------

EVERYTHING = """[mcp_servers.everything]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-everything"]
tool_timeout_sec = 300
"""


def test_toolTimeoutIsTheServedRequestTimeout(tmp_path: Path) -> None:
    """Codex waits 300 s for a call; the gateway, which would cut it at its
    own 60 s, serves the entry with that timeout."""
    host = makeHost(tmp_path)
    path = write(host.home / ".codex" / "config.toml", EVERYTHING)
    gateway = engine(tmp_path, [Codex()], host)

    gateway.adopt(urlFor)

    written = tomlkit.parse(path.read_text()).unwrap()["mcp_servers"]["everything"]
    assert written == {"url": urlFor("everything", None), "tool_timeout_sec": 300}
    spec = parseConfig(gateway.servedDocument(), "clients", ENVIRON, "user").servers["everything"]
    assert (spec.requestTimeout, spec.requestTimeoutDeclared) == (300.0, True)
    gateway.restore()
    assert path.read_text() == EVERYTHING


def _setTimeout(path: Path, value: int | None) -> None:
    """Edit C{tool_timeout_sec} of the adopted C{everything} as a user would."""
    doc = tomlkit.parse(path.read_text())
    table = doc["mcp_servers"]["everything"]
    if value is None:
        del table["tool_timeout_sec"]
    else:
        table["tool_timeout_sec"] = value
    path.write_text(tomlkit.dumps(doc))


@pytest.mark.parametrize(
    ("before", "after", "served"),
    [(60, 300, 300_000), (None, 300, 300_000), (300, None, None), (300, 30, None)],
    ids=["changed", "added", "removed", "shortened"],
)
def test_anEditedToolTimeoutIsServedAndComesBackAtRestore(
    tmp_path: Path, before: int | None, after: int | None, served: int | None
) -> None:
    """The user edits C{tool_timeout_sec} next to the gateway's URL: the
    entry stays adopted, the next pass (a reload) serves the new timeout,
    and the restore gives the original back with it."""
    host = makeHost(tmp_path)
    text = EVERYTHING.replace("tool_timeout_sec = 300\n", "")
    if before is not None:
        text += f"tool_timeout_sec = {before}\n"
    path = write(host.home / ".codex" / "config.toml", text)
    gateway = engine(tmp_path, [Codex()], host)
    gateway.adopt(urlFor)
    _setTimeout(path, after)

    report = gateway.adopt(urlFor)

    assert report.files[0].removed == [] and report.files[0].restored == [], report.messages()
    entry = tomlkit.parse(path.read_text()).unwrap()["mcp_servers"]["everything"]
    assert entry["url"] == urlFor("everything", None)
    assert gateway.servedDocument()["mcpServers"]["everything"].get("requestTimeout") == served
    gateway.restore()
    original = tomlkit.parse(path.read_text()).unwrap()["mcp_servers"]["everything"]
    assert original == {
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-everything"],
        **({} if after is None else {"tool_timeout_sec": after}),
    }


# -- env_vars: a name Codex passes only when it is set ---------------------------------

NAMES = st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not isGatewayOwn(n) and n not in ENVIRON
)


@settings(max_examples=60)
@given(names=st.lists(NAMES, unique=True, max_size=6), data=st.data())
def test_envVarsPassExactlyTheNamesSetInTheGatewaysEnvironment(
    names: list[str], data: st.DataObject
) -> None:
    """A user file's server gets each name of C{env_vars} that is set where
    the gateway runs, with its value, and no variable for one that is not
    (Codex passes nothing for it either): never an empty one."""
    given = data.draw(st.sets(st.sampled_from(names)) if names else st.just(set()))
    values = {
        name: data.draw(st.text(st.characters(codec="utf-8", exclude_characters="\0")))
        for name in given
    }
    entry = {"command": "srv", "env_vars": names, "env": {"OWN": "1"}}
    file = ClientFile("codex", Path("/home/u/.codex/config.toml"), "toml", Codex.location)

    served = Codex().served("srv", entry, file, Host(Path("/home/u")))

    assert served is not None
    spec = parseEntry("srv", served, ENVIRON, "user")
    child = spec.environment({**ENVIRON, **values})
    assert {name: child[name] for name in names if name in child} == values
    assert child["OWN"] == "1"


def test_envVarsOfARepositorysFileComeFromItsWorkspaceEnvOnly(tmp_path: Path) -> None:
    """A repository's C{.codex/config.toml} gets none of the user's
    environment: a name of its C{env_vars} comes from its workspace's
    C{.env} when that sets it, and is absent otherwise (not empty)."""
    host = makeHost(tmp_path)
    project = tmp_path / "repo"
    write(
        project / ".codex" / "config.toml",
        '[mcp_servers.srv]\ncommand = "srv"\nenv_vars = ["SET_VAR", "UNSET_VAR", "HOME"]\n',
    )
    write(project / ".env", "SET_VAR=from-the-workspace\n")
    gateway = engine(tmp_path, [Codex()], host, projects=[project])
    gateway.adopt(urlFor)
    document, origins = gateway.served()
    loaded = withOrigins(parseConfig(document, "clients", ENVIRON, "user"), origins)

    scoped = buildScopes(loaded, Overrides(), keys(), NO_FILE, {**ENVIRON, "UNSET_VAR": "mine"})

    [variant] = scoped.specs["srv"].variants
    env = variant.launch.environment({**ENVIRON, "UNSET_VAR": "mine"})
    assert env["SET_VAR"] == "from-the-workspace"
    assert "UNSET_VAR" not in env  # the user's own value is not the repository's
    assert env["HOME"] == ENVIRON["HOME"]  # a basic, as every child has it
