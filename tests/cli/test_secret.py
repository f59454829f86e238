"""C{mcpgateway secret set|list|rm|import}: values from stdin or a prompt,
never from the command line, never printed; import moves servers.json's
plain-text tokens (asking for each) and never touches a client's file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mcpgateway.secrets.store as storemodule
from mcpgateway.secrets.importing import BACKUP_FILE
from mcpgateway.secrets.store import KEYRING_SERVICE, SecretStore
from tests.cli.support import Cli
from tests.secrets.support import FakeKeyring

VALUE = "ghp_cliValueNeverPrinted0123456789"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def headless(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OS keyring: the encrypted file (a test that wants one puts it in)."""
    monkeypatch.setattr(storemodule, "realKeyring", lambda: None)
    yield


def stdin(monkeypatch: pytest.MonkeyPatch, text: str, tty: bool = False) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(text) if tty else io.StringIO(text))


def test_set_reads_stdin_and_says_where_but_never_the_value(
    stateDir: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    stdin(monkeypatch, VALUE + "\n")
    code, out, err = cli("secret", "set", "github")
    assert code == 0, err
    assert VALUE not in out + err and "${keyring:github}" in err and "encrypted" in err
    assert SecretStore(stateDir, keyring=None).get("github") == VALUE  # one newline dropped
    for path in stateDir.iterdir():
        assert VALUE.encode() not in path.read_bytes()


def test_set_at_a_terminal_asks_twice_without_echo(
    stateDir: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    stdin(monkeypatch, "", tty=True)
    answers = iter([VALUE, VALUE])
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", getpass)
    code, out, err = cli("secret", "set", "github", "--json")
    assert code == 0 and json.loads(out)["name"] == "github" and VALUE not in out + err
    assert prompts == ["value of secret github: ", "the same again: "]
    answers = iter([VALUE, "typo"])
    code, _, err = cli("secret", "set", "other")
    assert code == 2 and "differ" in err
    assert SecretStore(stateDir, keyring=None).names() == ["github"]


@pytest.mark.parametrize("given", [[VALUE], ["--value", VALUE], [f"--value={VALUE}"]])
def test_a_value_on_the_command_line_is_refused_and_not_repeated(
    stateDir: Path,
    monkeypatch: pytest.MonkeyPatch,
    given: list[str],
    cli: Cli,
) -> None:
    stdin(monkeypatch, "from-stdin\n")
    code, out, err = cli("secret", "set", "github", *given)
    assert code == 2 and "never taken from the command line" in err
    assert VALUE not in out + err
    assert SecretStore(stateDir, keyring=None).names() == []


@pytest.mark.parametrize(("name", "given"), [("bad name", "x\n"), ("ok", "\n")])
def test_a_bad_name_or_no_value_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    given: str,
    cli: Cli,
) -> None:
    stdin(monkeypatch, given)
    code, _, err = cli("secret", "set", name)
    assert code == 2, err


def test_list_prints_names_and_rm_forgets(stateDir: Path, cli: Cli) -> None:
    store = SecretStore(stateDir, keyring=None)
    store.put("b", VALUE)
    store.put("a", "another-value")
    code, out, err = cli("secret", "list")
    assert code == 0 and out == "a\nb\n" and VALUE not in out + err
    code, out, _ = cli("secret", "list", "--json")
    assert json.loads(out)["names"] == ["a", "b"] and VALUE not in out
    code, _, err = cli("secret", "rm", "b")
    assert code == 0 and "removed" in err
    code, _, err = cli("secret", "rm", "b")
    assert code == 1 and "no secret b" in err
    assert SecretStore(stateDir, keyring=None).names() == ["a"]


def test_with_a_keyring_set_puts_the_value_there(monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    keyring = FakeKeyring()
    monkeypatch.setattr(storemodule, "realKeyring", lambda: keyring)
    stdin(monkeypatch, VALUE)
    code, _, err = cli("secret", "set", "github")
    assert code == 0 and "OS keyring" in err
    assert keyring.passwords == {(KEYRING_SERVICE, "github"): VALUE}
    assert cli("secret", "list")[1] == "github\n"


# -- import ---------------------------------------------------------------------------


def serversFile(stateDir: Path, document: dict[str, Any]) -> Path:
    path = stateDir / "servers.json"
    path.write_text(json.dumps(document, indent=2))
    return path


DOCUMENT = {
    "mcpServers": {
        "github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": VALUE, "MODE": "fast"}},
        "slack": {"command": "slack-mcp", "env": {"SLACK_BOT_TOKEN": "xoxb-123-456"}},
    },
    "overrides": {},
}


def test_import_moves_the_accepted_tokens_and_keeps_a_sealed_copy(
    stateDir: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    path = serversFile(stateDir, DOCUMENT)
    stdin(monkeypatch, "y\nn\n")
    code, out, err = cli("secret", "import")
    assert code == 0, err
    assert VALUE not in out + err and "xoxb-123-456" not in out + err
    assert "server 'github': env GITHUB_TOKEN (34 characters): move it" in err
    document = json.loads(path.read_text())
    assert document["mcpServers"]["github"]["env"] == {
        "GITHUB_TOKEN": "${keyring:github.GITHUB_TOKEN}",
        "MODE": "fast",
    }
    assert document["mcpServers"]["slack"]["env"]["SLACK_BOT_TOKEN"] == "xoxb-123-456"  # declined
    store = SecretStore(stateDir, keyring=None)
    assert store.get("github.GITHUB_TOKEN") == VALUE
    backup = (stateDir / BACKUP_FILE).read_bytes()
    assert VALUE.encode() not in backup
    assert json.loads(store.unseal(backup)) == DOCUMENT
    for file in stateDir.iterdir():
        assert VALUE.encode() not in file.read_bytes(), file

    code, _, err = cli("secret", "import", "--undo")
    assert code == 0 and "put back" in err
    assert json.loads(path.read_text()) == DOCUMENT and not (stateDir / BACKUP_FILE).exists()


def test_import_yes_moves_every_one_and_a_second_run_finds_none(stateDir: Path, cli: Cli) -> None:
    path = serversFile(stateDir, DOCUMENT)
    code, out, _ = cli("secret", "import", "--yes", "--json")
    assert code == 0
    moved = json.loads(out)["moved"]
    assert [m["name"] for m in moved] == ["github.GITHUB_TOKEN", "slack.SLACK_BOT_TOKEN"]
    assert VALUE not in path.read_text() and "xoxb-123-456" not in path.read_text()
    code, _, err = cli("secret", "import", "--yes")
    assert code == 0 and "no plain-text tokens" in err


def test_import_without_answers_moves_nothing(
    stateDir: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    path = serversFile(stateDir, DOCUMENT)
    before = path.read_bytes()
    stdin(monkeypatch, "")
    code, _, err = cli("secret", "import")
    assert code == 0 and "nothing moved" in err
    assert path.read_bytes() == before and SecretStore(stateDir, keyring=None).names() == []


def test_import_reports_an_adopted_configs_token_and_leaves_it(
    stateDir: Path, home: Path, cli: Cli
) -> None:
    from mcpgateway.clientconfigs.backups import Backup, BlockInfo, Record
    from mcpgateway.clientconfigs.clients.claudecode import TOP
    from mcpgateway.runtime.paths import USER_BACKUP

    client = home / ".claude.json"
    client.write_text('{"mcpServers": {"github": {"url": "http://127.0.0.1:9100/github/mcp"}}}')
    backup = Backup("claude-code", str(client), "jsondata")
    backup.blocks[TOP] = BlockInfo(None, "user")
    original = {"command": "gh-mcp", "env": {"GITHUB_TOKEN": VALUE}}
    backup.records[(TOP, "github")] = Record(original, {"url": "u"}, "u", original)
    (stateDir / USER_BACKUP).write_bytes(backup.encode())
    kept, clientBefore = (stateDir / USER_BACKUP).read_bytes(), client.read_bytes()
    code, out, err = cli("secret", "import", "--yes")
    assert code == 0, err
    assert f"{client}: server 'github': env GITHUB_TOKEN looks like a token" in err
    assert VALUE not in out + err
    assert (stateDir / USER_BACKUP).read_bytes() == kept and client.read_bytes() == clientBefore


def test_undo_without_a_copy_says_so(cli: Cli) -> None:
    code, _, err = cli("secret", "import", "--undo")
    assert code == 1 and "no copy to put back" in err
