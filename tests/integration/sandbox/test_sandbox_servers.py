"""Real servers run unchanged, and no symlink or default shows the user's
files, with real bubblewrap and real Landlock (docs/guide/sandbox.md):

 - a data file the child made a symlink to C{~/.bashrc} is not followed at
   its next start;
 - the gateway's own files (its config, its tokens, a key under C{/opt})
   are never shown, even inside a folder the child may write;
 - a root gateway's own files no one else may read, under C{/opt}, are not
   readable by its children (root without capabilities still reads what
   root owns);
 - a script kept in C{/tmp} or C{/var/tmp} runs;
 - a program run through a pyenv shim runs (this machine's C{python3} when
   it is one, else a pyenv tree made for the test);
 - a package installed editable runs from its source folder;
 - a package of an npm workspace finds the dependencies the workspace keeps;
 - a program in C{~/.local/bin} reads nothing else of C{~/.local};
 - a gateway whose working directory is its state directory starts its
   children, which see nothing of it;
 - C{allowWrite} of a directory yet to be made makes it, and the child
   writes in it;
 - a folder an argument names is the server's to write;
 - under bubblewrap, an install bound again inside the masked state
   directory, with the home shown (C{"sandbox": "learn"} and the like);
 - through a real gateway: C{@modelcontextprotocol/server-filesystem}
   writes into the folder it was given, and
   C{@modelcontextprotocol/server-memory}, installed by the gateway for
   C{npx} without C{MEMORY_FILE_PATH}, keeps an entity across a restart.

Each runs the launcher directly (L{sandboxkit.confinedRun}) with each
mechanism; both must work here (CI installs bubblewrap and runs as root).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import pytest

from tests.integration.gateway import RunningGateway, npmServer, writeConfig
from tests.integration.sandboxkit import (
    ATTEMPTS,
    MECHANISMS,
    bwrapOrSkip,
    confinedRun,
    fakeHome,
    toolCall,
)
from tests.support.integration.per_user import tokens

pytestmark = pytest.mark.integration

Starter = Callable[..., RunningGateway]
PYTHON = [sys.executable, "-I", "-c"]
MEMORY_VERSION = "2026.8.31"
"""server-memory's version, as scripts/install-test-backends pins it."""


def ran(done: Any) -> dict[str, Any]:
    """The JSON a child printed last, asserting it ran."""
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """A home with secrets and a C{.bashrc}, and the gateway's state directory."""
    (tmp_path / "home").mkdir()
    home = fakeHome(tmp_path / "home")
    (home / ".mcpgateway").mkdir()
    (home / ".mcpgateway" / "tokens.json").write_text('{"admin": "state-secret"}')
    return home


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_data_file_made_a_symlink_is_not_followed_at_the_next_start(
    mechanism: str, user: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {"MEMORY_FILE_PATH": str(data / "memory.json")}
    plant = "import os, sys; os.symlink(sys.argv[1], os.environ['MEMORY_FILE_PATH']); print('{}')"
    first = confinedRun(mechanism, user, [*PYTHON, plant, str(user / ".bashrc")], env=env)
    ran(first)
    assert os.readlink(data / "memory.json") == str(user / ".bashrc")  # it could: its data
    append = ATTEMPTS + (
        "attempt('append', lambda: open(os.environ['MEMORY_FILE_PATH'], 'a').write('pwned'))\n"
        "attempt('read', lambda: open(os.environ['MEMORY_FILE_PATH']).read())\n"
        f"attempt('direct', lambda: open({str(user / '.bashrc')!r}, 'a').write('pwned'))\n"
        "print(json.dumps(out))"
    )  # (its path in the program's text: one its arguments named would be shown, read-only)
    second = ran(confinedRun(mechanism, user, [*PYTHON, append], env=env))
    assert (user / ".bashrc").read_text() == "# the user's own\n", second
    assert "the user's own" not in json.dumps(second)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_gateways_own_files_are_never_shown(mechanism: str, user: Path, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.json").write_text('{"secret": "config-secret"}')
    (conf / "tokens.json").write_text('{"secret": "token-secret"}')
    (conf / "readme.txt").write_text("shown")
    files = [str(conf / "config.json"), str(conf / "tokens.json")]
    program = ATTEMPTS + (
        "for name in sys.argv[2:]:\n"
        "    attempt(name, lambda: open(name).read())\n"
        "attempt('write', lambda: open(sys.argv[2], 'w').write('{}'))\n"
        "attempt('readme', lambda: open(sys.argv[1] + '/readme.txt').read())\n"
        "print(json.dumps(out))"
    )
    opt = _rootPrivateDirectory() if os.geteuid() == 0 else None
    try:
        if opt is not None:
            (opt / "tls.key").write_text("key-secret")
            files.append(str(opt / "tls.key"))
        argv = [*PYTHON, program, str(conf), *files]
        out = ran(confinedRun(mechanism, user, argv, gatewayFiles=files))
    finally:
        if opt is not None:
            shutil.rmtree(opt)
    assert "secret" not in json.dumps(out), out
    assert out["readme"] == ["ok", "shown"]  # the folder it was given, its own
    assert json.loads((conf / "config.json").read_text()) == {"secret": "config-secret"}


def _rootPrivateDirectory() -> Path:
    """A directory of root's under C{/opt}, everyone may enter (a vendor's
    tree): what it holds is shown by the system's bind."""
    opt = Path(tempfile.mkdtemp(prefix="mcpgateway-test-", dir="/opt"))
    opt.chmod(0o755)
    return opt


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_root_gateways_own_private_files_are_not_read_by_its_children(
    mechanism: str, user: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("a root gateway's children: run as root (CI does)")
    opt = _rootPrivateDirectory()
    try:
        (opt / "license.key").write_text("root-secret")
        (opt / "license.key").chmod(0o600)
        (opt / "private").mkdir(mode=0o700)
        (opt / "private" / "db.key").write_text("root-secret")
        (opt / "public.txt").write_text("for everyone")
        program = ATTEMPTS + (
            "for name in ('license.key', 'private/db.key', 'public.txt'):\n"
            "    attempt(name, lambda: open(sys.argv[1] + '/' + name).read())\n"
            "print(json.dumps(out))"
        )
        out = ran(confinedRun(mechanism, user, [*PYTHON, program, str(opt)]))
    finally:
        shutil.rmtree(opt)
    assert "root-secret" not in json.dumps(out), out
    assert out["public.txt"] == ["ok", "for everyone"]
    assert stat.S_IMODE(os.stat("/opt").st_mode) & stat.S_IXOTH  # the test's premise


@pytest.fixture(params=["/tmp", "/var/tmp"])
def shared(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A server's own folder in a shared temporary directory."""
    folder = Path(tempfile.mkdtemp(prefix="mcpgateway-srv-", dir=request.param))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_script_kept_in_a_shared_temporary_directory_runs(
    mechanism: str, user: Path, shared: Path
) -> None:
    (shared / "dist").mkdir()
    (shared / "dist" / "server.py").write_text(
        "import json, pathlib, sys\n"
        "here = pathlib.Path(__file__).parent\n"
        "print(json.dumps({'ran': (here / 'data.txt').read_text()}))\n"
    )
    (shared / "dist" / "data.txt").write_text("beside it")
    out = ran(confinedRun(mechanism, user, [sys.executable, "-I", str(shared / "dist/server.py")]))
    assert out == {"ran": "beside it"}


def pyenvShim(home: Path) -> Path:
    """This machine's C{python3} when it is a pyenv shim, else a pyenv tree
    made in C{home} (a shim that runs C{libexec/pyenv}, which reads the
    version file and runs that version's program)."""
    found = shutil.which("python3")
    if found is not None and Path(found).parent.name == "shims":
        return Path(found)
    root = home / ".pyenv"
    (root / "shims").mkdir(parents=True)
    (root / "libexec").mkdir()
    (root / "versions" / "3.99.0" / "bin").mkdir(parents=True)
    (root / "version").write_text("3.99.0\n")
    shim = root / "shims" / "python3"
    shim.write_text(
        f'#!/usr/bin/env bash\nexport PYENV_ROOT="{root}"\nexec "{root}/libexec/pyenv" exec'
        ' "${0##*/}" "$@"\n'
    )
    pyenv = root / "libexec" / "pyenv"
    pyenv.write_text(
        "#!/usr/bin/env bash\n"
        'version="$(cat "$PYENV_ROOT/version")"; shift; program="$1"; shift\n'
        'exec "$PYENV_ROOT/versions/$version/bin/$program" "$@"\n'
    )
    system = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    (root / "versions" / "3.99.0" / "bin" / "python3").write_text(
        f'#!/bin/sh\nexec {system} "$@"\n'
    )
    for script in (shim, pyenv, root / "versions" / "3.99.0" / "bin" / "python3"):
        script.chmod(0o755)
    return shim


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_program_run_through_a_pyenv_shim_runs(mechanism: str, user: Path) -> None:
    shim = pyenvShim(user)
    program = "import json, sys; print(json.dumps({'ran': sys.version_info[0]}))"
    env = {"PATH": f"{shim.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    done = confinedRun(mechanism, user, [str(shim), "-c", program], command="python3", env=env)
    assert ran(done) == {"ran": 3}


def editableInstall(root: Path) -> Path:
    """A virtual environment under C{root} with package C{editdemo}
    installed editable, as C{pip install -e} and C{uv pip install -e} leave
    it: a C{.pth} naming the source folder (outside the environment) and
    the C{direct_url.json} that records it; its C{python}."""
    source = root / "editdemo-src"
    (source / "editdemo").mkdir(parents=True)
    (source / "editdemo" / "__init__.py").write_text("")
    (source / "editdemo" / "__main__.py").write_text(
        "import json\nprint(json.dumps({'ran': __file__}))\n"
    )
    venv = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [packages] = (venv / "lib").glob("python*/site-packages")
    (packages / "_editdemo.pth").write_text(f"{source}\n")
    info = packages / "editdemo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: editdemo\nVersion: 0.1\n")
    (info / "direct_url.json").write_text(
        json.dumps({"url": source.as_uri(), "dir_info": {"editable": True}})
    )
    return venv / "bin" / "python"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_package_installed_editable_runs_from_its_source(
    mechanism: str, user: Path, tmp_path: Path
) -> None:
    """A server developed in place (C{pip install -e .}) imports its code
    from its source folder, which the sandbox shows read-only beside its
    environment."""
    python = editableInstall(tmp_path / "project")
    out = ran(confinedRun(mechanism, user, [str(python), "-m", "editdemo"]))
    assert out == {"ran": str(tmp_path / "project" / "editdemo-src" / "editdemo" / "__main__.py")}


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_workspace_package_finds_the_dependencies_its_workspace_keeps(
    mechanism: str, user: Path
) -> None:
    """A server developed in an npm workspace (as in a clone of a monorepo
    of servers) requires a dependency the workspace keeps in its own
    C{node_modules}, above the package."""
    node = shutil.which("node")
    assert node is not None, "node: scripts/install-test-backends needs it too"
    workspace = user / "code" / "mono"
    package = workspace / "packages" / "srv"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "srv", "version": "1.0.0"}')
    (package / "dist" / "index.js").write_text(
        "console.log(JSON.stringify({ran: require('dep')('hoisted')}));\n"
    )
    dep = workspace / "node_modules" / "dep"
    dep.mkdir(parents=True)
    (dep / "package.json").write_text('{"name": "dep", "version": "1.0.0", "main": "index.js"}')
    (dep / "index.js").write_text("module.exports = (s) => 'dep says ' + s;\n")
    (workspace / "package.json").write_text('{"private": true, "workspaces": ["packages/*"]}')
    done = confinedRun(mechanism, user, [node, str(package / "dist" / "index.js")], command="node")
    assert ran(done) == {"ran": "dep says hoisted"}


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_program_in_local_bin_sees_nothing_else_of_local(mechanism: str, user: Path) -> None:
    """A server installed where pipx, C{uv tool} and uv's own installer put
    programs (C{~/.local/bin}) runs, and reads nothing of the data and state
    the user's applications keep beside it in C{~/.local}."""
    local = user / ".local"
    (local / "share" / "TelegramDesktop").mkdir(parents=True)
    (local / "share" / "TelegramDesktop" / "key_datas").write_text("SESSION-SECRET")
    (local / "bin").mkdir(parents=True)
    program = local / "bin" / "local-srv"
    program.write_text(
        f"#!{sys.executable} -I\n"
        + ATTEMPTS
        + "attempt('session', lambda: open(os.path.expanduser("
        "'~/.local/share/TelegramDesktop/key_datas')).read())\n"
        "attempt('share', lambda: os.listdir(os.path.expanduser('~/.local/share')))\n"
        "print(json.dumps(out))\n"
    )
    program.chmod(0o755)
    out = ran(confinedRun(mechanism, user, [str(program)], command="local-srv"))
    assert "SESSION-SECRET" not in json.dumps(out) and out["session"][0] == "refused"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_gateway_running_in_its_state_directory_starts_its_children(
    mechanism: str, user: Path
) -> None:
    """The container image's working directory is its state directory: a
    child without a C{cwd} runs in its home, and nothing of the state
    directory is shown, even to an entry that asks for the home (the one
    path rule never binds it)."""
    state = user / ".mcpgateway"
    program = ATTEMPTS + (
        "attempt('cwd', os.getcwd)\n"
        "attempt('list', lambda: os.listdir(sys.argv[1]))\n"
        "attempt('token', lambda: open(sys.argv[1] + '/tokens.json').read())\n"
        "print(json.dumps(out))"
    )
    profile = {"filesystem": {"allowRead": ["~"]}}
    done = confinedRun(mechanism, user, [*PYTHON, program, str(state)], gatewayCwd=state,
                       profile=profile)  # fmt: skip
    out = ran(done)
    assert "state-secret" not in json.dumps(out)
    assert out["list"] in (["ok", []], ["refused", 13], ["refused", 2]), out
    assert out["cwd"] == ["ok", str(user)]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_allow_write_of_a_directory_yet_to_be_made_makes_it(mechanism: str, user: Path) -> None:
    program = ATTEMPTS + (
        "attempt('write', lambda: open(sys.argv[1] + '/today.md', 'w').write('written'))\n"
        "print(json.dumps(out))"
    )
    notes = user / "notes" / "daily"
    profile = {"filesystem": {"allowWrite": ["~/notes/daily"]}}
    out = ran(confinedRun(mechanism, user, [*PYTHON, program, str(notes)], profile=profile))
    assert out["write"][0] == "ok", out
    assert (notes / "today.md").read_text() == "written"
    assert stat.S_IMODE(notes.stat().st_mode) == 0o700
    assert stat.S_IMODE((user / "notes").stat().st_mode) == 0o700


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_folder_an_argument_names_is_the_servers_to_write(
    mechanism: str, user: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (tmp_path / "given.txt").write_text("a file it is given: read-only")
    program = ATTEMPTS + (
        "attempt('folder', lambda: open(sys.argv[1] + '/new.txt', 'w').write('x'))\n"
        "attempt('file', lambda: open(sys.argv[2], 'a').write('x'))\n"
        "print(json.dumps(out))"
    )
    argv = [*PYTHON, program, str(folder), str(tmp_path / "given.txt")]
    out = ran(confinedRun(mechanism, user, argv))
    assert out["folder"][0] == "ok" and (folder / "new.txt").read_text() == "x"
    assert out["file"][0] == "refused"
    assert (tmp_path / "given.txt").read_text() == "a file it is given: read-only"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_an_install_in_the_masked_state_directory_runs_with_the_home_shown(
    mechanism: str, user: Path
) -> None:
    """A server the gateway installed (C{<state>/uvx/<package>}) whose
    entry asks for the home: the home is not shown (the one path rule), the
    state directory is masked, and its install alone is bound inside it
    (bubblewrap shows the folders on the way to it, empty)."""
    install = user / ".mcpgateway" / "uvx" / "tool" / "bin"
    install.mkdir(parents=True)
    (install / "server.py").write_text(
        ATTEMPTS + "attempt('token', lambda: open(sys.argv[1] + '/tokens.json').read())\n"
        "attempt('list', lambda: os.listdir(sys.argv[1]))\n"
        "print(json.dumps(out))\n"
    )
    profile = {"filesystem": {"allowRead": ["~"]}}
    argv = [sys.executable, "-I", str(install / "server.py"), str(user / ".mcpgateway")]
    out = ran(confinedRun(mechanism, user, argv, profile=profile))
    assert out["token"][0] == "refused", out
    assert out["list"][0] == "refused" or out["list"] == ["ok", ["uvx"]], out


def test_server_filesystem_writes_into_the_folder_it_was_given(home: Path, start: Starter) -> None:
    bwrapOrSkip()
    user = fakeHome(home)
    folder = user / "projects" / "notes"
    folder.mkdir(parents=True)
    filesystem = npmServer("SERVER_FILESYSTEM_JS")
    entry = {"command": filesystem[0], "args": [filesystem[1], str(folder)]}
    config = writeConfig(user / "servers.json", {"fs": entry})
    gateway = start("--config", str(config), "--sandbox", "auto")
    wrote = toolCall(
        gateway.url("fs"), "write_file", {"path": str(folder / "todo.md"), "content": "ship it"}
    )
    assert "successfully wrote" in json.dumps(wrote).lower(), wrote
    assert (folder / "todo.md").read_text() == "ship it"
    assert (user / ".bashrc").read_text() == "# the user's own\n"


class LearnedMemory(NamedTuple):
    """A gateway run of an npx server-memory that learned one entity, then stopped."""

    user: Path
    entry: dict[str, Any]
    args: tuple[str, ...]
    env: dict[str, str]


def learnedMemory(home: Path, start: Starter, observation: str) -> LearnedMemory:
    """Start the gateway on C{home} with an npx server-memory (no
    C{MEMORY_FILE_PATH}), have it learn an entity observed as
    C{observation}, and stop the gateway."""
    bwrapOrSkip()
    user = fakeHome(home)
    npmServer("SERVER_MEMORY_JS")  # Node.js and npm are here (else: skipped, saying why)
    entry: dict[str, Any] = {
        "command": "npx",
        "args": ["-y", f"@modelcontextprotocol/server-memory@{MEMORY_VERSION}"],
    }
    config = writeConfig(user / "servers.json", {"memory": entry})
    env = {"npm_config_cache": str(user / ".npm")}
    args = ("--config", str(config), "--sandbox", "auto")
    entity = {"name": "mcpgateway", "entityType": "project", "observations": [observation]}
    first = start(*args, env=env, timeout=60.0)
    made = toolCall(first.url("memory"), "create_entities", {"entities": [entity]})
    assert "mcpgateway" in json.dumps(made), made
    first.stop()
    return LearnedMemory(user, entry, args, env)


def test_server_memory_keeps_what_it_learned_across_a_restart(home: Path, start: Starter) -> None:
    """server-memory without C{MEMORY_FILE_PATH} writes C{memory.jsonl}
    beside its own script: in its own copy of the package the gateway
    installed for C{npx}, never in the install. That install's npm cache
    is its own too (in the state directory), never the npm cache the
    gateway's environment names (the user's, where a C{postinstall} would
    leave what the user's next C{npx} runs)."""
    learned = learnedMemory(home, start, "persists")
    state = learned.user / "state"
    assert not list((state / "npx").glob("**/server-memory/dist/memory.jsonl"))
    written = list((state / "copies").glob("memory-*/package/dist/memory.jsonl"))
    assert written and "persists" in written[0].read_text()
    assert not (learned.user / ".npm").exists()
    assert list((state / "caches").glob("memory-*/npm/cache/_cacache"))
    second = start(*learned.args, env=learned.env, timeout=60.0)
    graph = toolCall(second.url("memory"), "read_graph")
    assert "persists" in json.dumps(graph), graph


def test_server_memory_keeps_what_it_learned_when_its_entry_changes(
    home: Path, start: Starter
) -> None:
    """What server-memory wrote in its own copy of its package stays its
    data when the user edits its entry (a variable added, a key rotated,
    its sandbox narrowed): the copy is kept for the entry's name, route
    and person, not for every word of the entry."""
    learned = learnedMemory(home, start, "kept")
    entry = {
        **learned.entry,
        "env": {"API_KEY": "rotated"},
        "sandbox": {"filesystem": {"denyRead": ["~/private"]}},
    }
    writeConfig(learned.user / "servers.json", {"memory": entry})
    second = start(*learned.args, env=learned.env, timeout=60.0)
    graph = toolCall(second.url("memory"), "read_graph")
    assert "kept" in json.dumps(graph), graph


def callAs(url: str, token: str, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """One SDK session on C{url} with C{token}: call C{name}; whether it
    failed, and its first text."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def main() -> tuple[bool, str]:
        with anyio.fail_after(120):
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                create_mcp_http_client(headers=headers) as http,
                streamable_http_client(url, http_client=http) as (read, write, *_),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                result = await session.call_tool(name, arguments)
                text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
                return bool(result.is_error), text

    return anyio.run(main)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_each_persons_server_memory_child_writes_beside_its_code_in_a_copy_of_its_own(
    home: Path, start: Starter, mechanism: str
) -> None:
    """On a gateway with tokens, a C{perUser} server-memory gives alice and
    bob a child each, and each writes C{memory.jsonl} in its own copy of
    the package (bob never sees alice's): under bubblewrap the copy is
    shown at the package's path, under Landlock the child runs it where it
    is. Neither ever writes in the install every child runs."""
    confinedBy(mechanism)
    user = fakeHome(home)
    npmServer("SERVER_MEMORY_JS")
    package = f"@modelcontextprotocol/server-memory@{MEMORY_VERSION}"
    config = writeConfig(
        user / "servers.json",
        {"mine": {"command": "npx", "args": ["-y", package], "perUser": True}},
    )
    path, headers = tokens(user, "alice", "bob")
    alice, bob = (headers[name]["authorization"].split()[1] for name in ("alice", "bob"))
    forced = "bubblewrap" if mechanism == "bwrap" else mechanism
    args = ("--config", str(config), "--auth-tokens", str(path), "--sandbox", forced)
    gateway = start(*args, timeout=60.0)
    entity = {"name": "alices-plan", "entityType": "note", "observations": ["private"]}
    failed, text = callAs(gateway.url("mine"), alice, "create_entities", {"entities": [entity]})
    assert not failed, text
    failed, text = callAs(gateway.url("mine"), alice, "read_graph", {})
    assert not failed and "alices-plan" in text, text
    failed, text = callAs(gateway.url("mine"), bob, "read_graph", {})
    assert not failed and "alices-plan" not in text, text
    assert not list((user / "state" / "npx").glob("**/server-memory/dist/memory.jsonl"))
    copies = list((user / "state" / "copies").glob("mine-*/package/dist/memory.jsonl"))
    assert len(copies) == 1 and "alices-plan" in copies[0].read_text()


def confinedBy(mechanism: str) -> None:
    """Skip, saying why, where C{mechanism} cannot confine."""
    if mechanism == "bwrap":
        bwrapOrSkip()
        return
    from mcpgateway.sandbox.probe import landlockAbi

    version, why = landlockAbi()
    if version < 1:
        pytest.skip(f"Landlock cannot confine here: {why}")
