"""What the user's C{~/.npmrc} tells a failed confined npm install: the file
read as npm's C{ini} parser reads it, the registry it names for a package
(its scope's, its own default), and the entry C{env} that names it instead,
its credentials by reference, never by value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.npmrc import (
    MAX_BYTES,
    Registry,
    credentialsOf,
    envPlan,
    nerfDart,
    parseNpmrc,
    readNpmrc,
    registriesFor,
    registryHint,
    secretName,
    settingOf,
    shownUrl,
    userConfigPath,
)

ACME = "@acme:registry=http://npm.acme.internal/\n//npm.acme.internal/:_authToken=tok-123\n"
TOKEN = "tok-123"


def homeWith(tmp_path: Path, text: str) -> dict[str, str]:
    """An environment whose HOME holds an C{.npmrc} of C{text}."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".npmrc").write_text(text)
    return {"HOME": str(home)}


def test_the_file_is_read_as_npms_ini_parser_reads_it() -> None:
    text = (
        "\ufeff; a comment\n"
        "# another\n"
        "  @acme:registry = http://npm.acme.internal/  \r\n"
        'registry = "https://mirror.example/npm/"\n'
        "//mirror.example/npm/:_authToken='${NPM_TOKEN}'\n"
        "email=me@example.com ; trailing comment\n"
        "odd=a\\;b\\#c\\d\n"
        "ca[]=one\n"
        "bare-flag\n"
        "registry-later=1\n"
        "[section]\n"
        "registry=http://not.top.level/\n"
    )
    assert parseNpmrc(text) == {
        "@acme:registry": "http://npm.acme.internal/",
        "registry": "https://mirror.example/npm/",
        "//mirror.example/npm/:_authToken": "${NPM_TOKEN}",
        "email": "me@example.com",
        "odd": "a;b#c\\d",
        "registry-later": "1",
    }
    assert parseNpmrc("registry=a\nregistry=b\n") == {"registry": "b"}


@given(st.text())
def test_any_text_is_read_without_failing(text: str) -> None:
    """The file is the user's, and may hold anything."""
    settings = parseNpmrc(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in settings.items())
    assert all(k and "=" not in k for k in settings)


KEYS = st.from_regex(r"[a-z@:/._-]{1,12}", fullmatch=True).filter(
    lambda k: not k.endswith("[]") and k.strip() == k
)
VALUES = st.from_regex(r"[A-Za-z0-9@:/._${}-]{0,20}", fullmatch=True)


@given(st.dictionaries(KEYS, VALUES, max_size=6), st.sampled_from(["=", " = ", "= "]))
def test_what_is_written_plainly_is_read_back(settings: dict[str, str], sep: str) -> None:
    text = "".join(f"{key}{sep}{value}\n" for key, value in settings.items())
    assert parseNpmrc(text) == settings


def test_the_registries_of_a_package_are_its_scopes_then_the_default() -> None:
    settings = parseNpmrc(
        "@acme:registry=http://npm.acme.internal/\nregistry=https://mirror.example/\n"
    )
    assert registriesFor("@acme/some-mcp", settings) == [
        Registry("@acme:registry", "http://npm.acme.internal/"),
        Registry("registry", "https://mirror.example/"),
    ]
    assert registriesFor("plain-mcp", settings) == [Registry("registry", "https://mirror.example/")]
    # the public registry, which the install asks anyway, and what is no URL
    public = parseNpmrc("registry=https://registry.npmjs.org/\n@o:registry=not a url\n")
    assert registriesFor("@o/x", public) == []


@pytest.mark.parametrize(
    ("url", "nerfed"),
    [
        ("http://npm.acme.internal/", "//npm.acme.internal/"),
        ("https://x.example/repo/npm/", "//x.example/repo/npm/"),
        ("https://x.example/repo/npm", "//x.example/repo/"),
        ("https://x.example", "//x.example/"),
        ("https://X.example:443/a/", "//x.example/a/"),
        ("http://x.example:8080/", "//x.example:8080/"),
        ("https://user:pw@x.example/", "//x.example/"),
        ("ftp://x.example/", None),
        ("not a url", None),
    ],
)
def test_a_registrys_credentials_key_is_npms_nerf_dart(url: str, nerfed: str | None) -> None:
    assert nerfDart(url) == nerfed


def test_credentials_are_those_of_the_deepest_folder_that_has_any() -> None:
    settings = {
        "//x.example/:_authToken": "host-wide",
        "//x.example/repo/npm/:username": "me",  # a user alone is no credential
        "//x.example/repo/:_auth": "deeper",
    }
    assert credentialsOf("https://x.example/repo/npm/", settings) == {
        "//x.example/repo/:_auth": "deeper"
    }
    assert credentialsOf("https://x.example/other/", settings) == {
        "//x.example/:_authToken": "host-wide"
    }
    pair = {"//y.example/:username": "me", "//y.example/:_password": "cHc="}
    assert credentialsOf("https://y.example/", pair) == pair
    assert credentialsOf("https://z.example/", settings) == {}


def test_the_env_names_each_registry_and_its_credentials_by_reference() -> None:
    settings = parseNpmrc(
        ACME + "registry=https://mirror.example/\n"
        "//mirror.example/:username=me\n//mirror.example/:_password=${MIRROR_PW}\n"
    )
    plan = envPlan(registriesFor("@acme/x", settings), settings)
    assert plan.env == {
        "npm_config_@acme:registry": "http://npm.acme.internal/",
        "npm_config_//npm.acme.internal/:_authToken": "${keyring:npm-npm.acme.internal}",
        "npm_config_registry": "https://mirror.example/",
        "npm_config_//mirror.example/:username": "me",
        "npm_config_//mirror.example/:_password": "${env:MIRROR_PW}",
    }
    assert plan.secrets == ["npm-npm.acme.internal"]


def test_a_registry_url_with_a_user_in_it_is_a_secret_too() -> None:
    settings = parseNpmrc("registry=https://me:pw-9@mirror.example/npm/\n")
    plan = envPlan(registriesFor("x", settings), settings)
    assert plan.env == {"npm_config_registry": "${keyring:npm-mirror.example-npm-registry}"}
    assert shownUrl("https://me:pw-9@mirror.example/npm/") == "https://***@mirror.example/npm/"
    assert shownUrl("https://mirror.example/") == "https://mirror.example/"


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("//npm.acme.internal/:_authToken", "npm-npm.acme.internal"),
        ("//x.example:8080/repo/npm/:_auth", "npm-x.example-8080-repo-npm-auth"),
        ("//x.example/:_password", "npm-x.example-password"),
    ],
)
def test_a_secret_is_named_for_its_registry_and_field(key: str, name: str) -> None:
    assert secretName(key) == name


def test_npm_reads_its_variables_in_any_case_a_nerf_darted_one_as_written() -> None:
    assert settingOf("NPM_CONFIG_REGISTRY") == "registry"
    assert settingOf("npm_config_@ACME:registry") == "@acme:registry"
    assert settingOf("npm_config_//H.example/:_authToken") == "//H.example/:_authToken"
    assert settingOf("npm_config_fetch_retries") == "fetch-retries"
    assert settingOf("HOME") is None


def test_the_hint_says_what_the_file_names_and_the_env_that_names_it(tmp_path: Path) -> None:
    hint = registryHint("@acme/some-mcp", homeWith(tmp_path, ACME))
    assert hint == (
        "~/.npmrc names @acme's registry http://npm.acme.internal/, which the gateway's"
        " install does not read (the sandbox hides ~/.npmrc: it holds tokens); add to the"
        ' entry\'s "env": {"npm_config_@acme:registry": "http://npm.acme.internal/",'
        ' "npm_config_//npm.acme.internal/:_authToken": "${keyring:npm-npm.acme.internal}"},'
        " and store its token with `mcpgateway secret set npm-npm.acme.internal`"
    )
    assert TOKEN not in hint


def test_no_hint_when_the_file_names_nothing_more(tmp_path: Path) -> None:
    environ = homeWith(tmp_path, ACME)
    assert registryHint("other-mcp", environ) is None  # no registry of its own
    assert registryHint("@other/x", environ) is None
    named = {
        **environ,
        "npm_config_@acme:registry": "http://npm.acme.internal/",
        "npm_config_//npm.acme.internal/:_authToken": "${keyring:t}",
    }
    assert registryHint("@acme/x", named) is None
    # the registry named, its token not: the token is what is missing
    hint = registryHint("@acme/x", {**environ, "NPM_CONFIG_@acme:registry": "http://a/"})
    assert hint is not None and '"env": {"npm_config_//npm.acme.internal/:_authToken"' in hint
    assert registryHint("@acme/x", {"HOME": str(tmp_path / "nowhere")}) is None
    assert registryHint("@acme/x", {}) is None


def test_the_file_npm_is_told_to_read_is_the_one_read(tmp_path: Path) -> None:
    other = tmp_path / "work.npmrc"
    other.write_text(ACME)
    environ = {"HOME": str(tmp_path / "home"), "NPM_CONFIG_USERCONFIG": str(other)}
    assert userConfigPath(environ) == other
    hint = registryHint("@acme/x", environ)
    assert hint is not None and hint.startswith(f"{other} names @acme's registry")
    assert userConfigPath({}) is None


def test_a_file_too_big_or_unreadable_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_text(ACME + "x" * MAX_BYTES)
    assert readNpmrc(big) is None
    assert readNpmrc(tmp_path) is None  # a folder
    assert readNpmrc(tmp_path / "missing") is None


SECRETS = st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ23456789", min_size=10, max_size=30)


@given(
    SECRETS,
    st.sampled_from(["_authToken", "_auth", "_password"]),
    st.lists(st.sampled_from(["; note", "registry=https://m.example/", "x=1", ""]), max_size=4),
)
def test_a_credential_is_never_shown(
    tmp_path_factory: pytest.TempPathFactory, secret: str, field: str, others: list[str]
) -> None:
    """Whatever the file holds around it, the value of a credential (or a
    URL's password) never reaches the hint."""
    home = tmp_path_factory.mktemp("home")
    text = "\n".join(
        [
            *others,
            f"@acme:registry=https://u:{secret}@npm.acme.internal/",
            "//npm.acme.internal/:username=me",
            f"//npm.acme.internal/:{field}={secret}",
            f"//m.example/:_authToken={secret}",
        ]
    )
    (home / ".npmrc").write_text(text)
    hint = registryHint("@acme/some-mcp", {"HOME": str(home)})
    assert hint is not None and secret not in hint
