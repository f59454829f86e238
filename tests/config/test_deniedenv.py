"""config.steering: the variables a workspace's .env or a client's header
may not set, in whatever case they are written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.config.deniedenv import (
    ALLOWED_IN_DENIED,
    DENIED_NAMES,
    DENIED_PREFIXES,
    FAMILIES,
    isDenied,
)
from tests.support.config.steering import anyCase

_SUFFIX = st.from_regex(r"[A-Za-z0-9_]{0,12}", fullmatch=True)


@given(st.data(), st.sampled_from(DENIED_PREFIXES), _SUFFIX)
def test_every_name_of_a_denied_family_is_denied_in_any_case(
    data: st.DataObject, prefix: str, suffix: str
) -> None:
    name = prefix + suffix
    if name.upper() in ALLOWED_IN_DENIED:
        return
    assert isDenied(data.draw(anyCase(name)))


@given(st.data(), st.sampled_from(sorted(DENIED_NAMES)))
def test_every_denied_name_is_denied_in_any_case(data: st.DataObject, name: str) -> None:
    assert isDenied(data.draw(anyCase(name)))


@given(st.data(), st.sampled_from(sorted(ALLOWED_IN_DENIED)))
def test_the_names_that_steer_nothing_pass_in_any_case(data: st.DataObject, name: str) -> None:
    assert not isDenied(data.draw(anyCase(name)))


@given(st.sampled_from(["MYAPP_", "ACME_", "SERVICE_", "X"]), _SUFFIX)
def test_a_name_of_no_family_is_not_denied(prefix: str, suffix: str) -> None:
    assert not isDenied(prefix + suffix)


@pytest.mark.parametrize(
    "name",
    [
        # Python, npm, uv, pip, .NET, the shell, git, the JVM, Ruby and Perl.
        "PYTHONUSERBASE",
        "HOME",
        "GCONV_PATH",
        "PYTHONWARNINGS",
        "PYTHONPYCACHEPREFIX",
        "npm_config_prefix",
        "NPM_CONFIG_USERCONFIG",
        "UV_INDEX_URL",
        "PIP_INDEX_URL",
        "DOTNET_STARTUP_HOOKS",
        "CORECLR_PROFILER_PATH",
        "SHELLOPTS",
        "PS4",
        "GIT_SSH_COMMAND",
        "GIT_CONFIG_GLOBAL",
        "JAVA_TOOL_OPTIONS",
        "RUBYOPT",
        "PERL5OPT",
        # Kin: each runs, links or fetches other code for some server's program.
        "LD_PRELOAD",
        "BASH_ENV",
        "BASH_FUNC_npx%%",
        "BASH_LOADABLES_PATH",
        "NODE_OPTIONS",
        "OPENSSL_CONF",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "TMP",
        "TEMP",
        "PWD",
        "GOFLAGS",
        "GOAUTH",
        "CGO_LDFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "CARGO_HOME",
        "CC",
        "CFLAGS",
        "MAKEFLAGS",
        "PKG_CONFIG_PATH",
        "KUBECONFIG",
        "AWS_CONFIG_FILE",
        "DOCKER_CONFIG",
        "CLOUDSDK_PYTHON",
        "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "GTK_MODULES",
        "VK_LAYER_PATH",
        "PUPPETEER_EXECUTABLE_PATH",
        "CHROME_PATH",
        "ASDF_DATA_DIR",
        "PYENV_ROOT",
        "VOLTA_HOME",
        "NUGET_PLUGIN_PATHS",
        "LUA_INIT",
        "HGRCPATH",
        "GNUPGHOME",
        "SUDO_ASKPASS",
        "comspec",
    ],
)
def test_the_loader_variables_an_attack_would_use_are_denied(name: str) -> None:
    assert isDenied(name)


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GH_HOST",
        "GOOGLE_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_REGION",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "DATABASE_URL",
        "API_KEY",
        "NODE_ENV",
        "MIX_ENV",
        "RUST_LOG",
        "DOCKERHUB_TOKEN",
        "SLACK_BOT_TOKEN",
        "VK_TOKEN",
        "LOG_LEVEL",
    ],
)
def test_plain_settings_and_credentials_are_not_denied(name: str) -> None:
    assert not isDenied(name)


def test_every_family_says_what_it_steers_in_capitals() -> None:
    for family in FAMILIES:
        assert family.why and (family.prefixes or family.names)
        for word in (*family.prefixes, *family.names):
            assert word == word.upper(), word
