"""The secret store: an encrypted 0600 file on a machine without a keyring,
the OS keyring (and a list of names) where there is one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mcpgateway.runtime.sealedfile import realKeyring
from mcpgateway.secrets.store import (
    KEY_FILE,
    KEYRING_SERVICE,
    NAMES_FILE,
    SECRETS_FILE,
    SecretStore,
    SecretStoreError,
)
from tests.secrets.support import FakeKeyring

VALUE = "ghp_plainTextNeverOnDisk0123456789"


def files(stateDir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in stateDir.iterdir() if p.is_file()}


def test_without_a_keyring_secrets_are_sealed_in_a_0600_file(tmp_path: Path) -> None:
    stateDir = tmp_path / "state"  # made on the first secret
    store = SecretStore(stateDir, keyring=None)
    assert "encrypted" in store.put("github", VALUE)
    assert sorted(files(stateDir)) == [SECRETS_FILE, KEY_FILE]
    for content in files(stateDir).values():
        assert VALUE.encode() not in content
    for name in (SECRETS_FILE, KEY_FILE):
        assert stat.S_IMODE((stateDir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(stateDir.stat().st_mode) == 0o700
    again = SecretStore(stateDir, keyring=None)
    assert again.get("github") == VALUE and again.get("other") is None
    assert again.names() == ["github"]


def test_set_replaces_and_rm_forgets(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, keyring=None)
    store.put("a", "one-value")
    store.put("b", "two-value")
    store.put("a", "three-value")
    assert store.get("a") == "three-value" and store.names() == ["a", "b"]
    assert store.remove("a") is True
    assert store.remove("a") is False
    assert store.names() == ["b"] and store.get("a") is None


def test_a_store_whose_key_is_gone_says_so_without_a_value(tmp_path: Path) -> None:
    SecretStore(tmp_path, keyring=None).put("a", VALUE)
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(SecretStoreError, match="its key is gone") as caught:
        SecretStore(tmp_path, keyring=None).get("a")
    assert VALUE not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("bad name", "v", "not a secret's name"),
        ("-x", "v", "not a secret's name"),
        ("ok", "", "empty"),
        ("ok", "a\0b", "NUL"),
        ("ok", "x" * 70000, "longer than"),
    ],
)
def test_what_cannot_be_kept_is_refused(tmp_path: Path, name: str, value: str, why: str) -> None:
    with pytest.raises(SecretStoreError, match=why):
        SecretStore(tmp_path, keyring=None).put(name, value)
    assert not (tmp_path / SECRETS_FILE).exists()


def test_with_a_keyring_secrets_go_there_and_only_their_names_to_disk(tmp_path: Path) -> None:
    keyring = FakeKeyring()
    store = SecretStore(tmp_path, keyring=keyring)
    assert "OS keyring" in store.put("github", VALUE)
    assert keyring.passwords == {(KEYRING_SERVICE, "github"): VALUE}
    assert sorted(files(tmp_path)) == [NAMES_FILE]
    assert VALUE.encode() not in files(tmp_path)[NAMES_FILE]
    assert store.names() == ["github"] and store.get("github") == VALUE
    assert store.remove("github") and keyring.passwords == {} and store.names() == []


def test_a_secret_set_with_the_systems_own_tools_is_found(tmp_path: Path) -> None:
    keyring = FakeKeyring()
    keyring.passwords[(KEYRING_SERVICE, "outside")] = "set-by-keyring-cli"
    assert SecretStore(tmp_path, keyring=keyring).get("outside") == "set-by-keyring-cli"


def test_a_secret_kept_before_a_keyring_appeared_is_still_found_then_moved(
    tmp_path: Path,
) -> None:
    SecretStore(tmp_path, keyring=None).put("old", "from-the-file")
    keyring = FakeKeyring()
    store = SecretStore(tmp_path, keyring=keyring)
    assert store.get("old") == "from-the-file" and store.names() == ["old"]
    store.put("old", "now-in-keyring")
    assert SecretStore(tmp_path, keyring=None).get("old") is None  # one place only
    assert store.get("old") == "now-in-keyring"


def test_a_failing_keyring_falls_back_to_the_file_or_says_so(tmp_path: Path) -> None:
    SecretStore(tmp_path, keyring=None).put("filed", "in-the-file")
    broken = SecretStore(tmp_path, keyring=FakeKeyring(broken=True))
    assert broken.get("filed") == "in-the-file"
    with pytest.raises(SecretStoreError, match=r"the OS keyring failed \(RuntimeError\)"):
        broken.get("elsewhere")
    with pytest.raises(SecretStoreError, match="refused it"):
        broken.put("x", VALUE)


def test_the_fail_backend_is_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    assert realKeyring() is None


def test_sealed_data_opens_only_with_the_stores_key(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, keyring=None)
    sealed = store.seal(b'{"env": {"T": "plain"}}')
    assert b"plain" not in sealed
    assert store.unseal(sealed) == b'{"env": {"T": "plain"}}'
    other = SecretStore(tmp_path / "other", keyring=None)
    other.put("x", "another-key")
    with pytest.raises(SecretStoreError, match="another key"):
        other.unseal(sealed)
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(SecretStoreError, match="is gone"):
        SecretStore(tmp_path, keyring=None).unseal(sealed)
