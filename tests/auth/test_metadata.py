"""RFC 9728 metadata URLs and documents; RFC 6750 challenges, quoted safely."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.auth.metadata import (
    challenge,
    endpointUrl,
    metadataUrl,
    protectedResource,
)
from mcpgateway.httpbase.principal import Refusal

META = "https://mcp.example.com/.well-known/oauth-protected-resource"


@pytest.mark.parametrize(
    ("resource", "endpoint", "url"),
    [
        ("https://mcp.example.com", "", META),
        ("https://mcp.example.com/", "", META),
        ("https://mcp.example.com", "/github/mcp", META + "/github/mcp"),
        ("https://mcp.example.com", "/fs~k1/mcp", META + "/fs~k1/mcp"),
        (
            "https://ex.com:8443/gw",
            "/github/mcp",
            "https://ex.com:8443/.well-known/oauth-protected-resource/gw/github/mcp",
        ),
        ("https://ex.com/gw/", "", "https://ex.com/.well-known/oauth-protected-resource/gw"),
    ],
)
def test_the_metadata_url_puts_the_well_known_segment_after_the_host(
    resource: str, endpoint: str, url: str
) -> None:
    assert metadataUrl(resource, endpoint) == url


def test_an_endpoint_url_joins_the_resource_and_the_path() -> None:
    assert endpointUrl("https://ex.com/", "/github/mcp") == "https://ex.com/github/mcp"
    assert endpointUrl("https://ex.com", "") == "https://ex.com"


def test_the_document_names_the_issuer_the_scopes_and_the_header_method() -> None:
    assert protectedResource("https://r", "https://idp", ["mcp:admin", "mcp:github"]) == {
        "resource": "https://r",
        "authorization_servers": ["https://idp"],
        "scopes_supported": ["mcp:admin", "mcp:github"],
        "bearer_methods_supported": ["header"],
    }


@pytest.mark.parametrize(
    ("refusal", "value"),
    [
        (Refusal(401, None, "no token"), f'Bearer resource_metadata="{META}"'),
        (
            Refusal(401, "invalid_token", "the token has expired"),
            'Bearer error="invalid_token", error_description="the token has expired",'
            f' resource_metadata="{META}"',
        ),
        (
            Refusal(403, "insufficient_scope", "may not use github", scope="mcp:github"),
            'Bearer error="insufficient_scope", error_description="may not use github",'
            f' scope="mcp:github", resource_metadata="{META}"',
        ),
        (
            Refusal(401, None, "no token", scope="mcp:a mcp:b"),
            f'Bearer resource_metadata="{META}", scope="mcp:a mcp:b"',
        ),
    ],
)
def test_oauth_challenges(refusal: Refusal, value: str) -> None:
    assert challenge(refusal, META) == value.encode()


@pytest.mark.parametrize(
    ("refusal", "value"),
    [
        (Refusal(401, None, "no token"), 'Bearer realm="mcpgateway"'),
        (
            Refusal(401, "invalid_token", "the bearer token is not valid"),
            'Bearer realm="mcpgateway", error="invalid_token",'
            ' error_description="the bearer token is not valid"',
        ),
        (
            Refusal(403, "insufficient_scope", "no", scope="mcp:github"),
            'Bearer realm="mcpgateway", error="insufficient_scope", error_description="no"',
        ),
    ],
)
def test_static_token_challenges_name_the_realm(refusal: Refusal, value: str) -> None:
    assert challenge(refusal, None) == value.encode()


def test_quotes_and_backslashes_never_break_the_header() -> None:
    value = challenge(
        Refusal(401, "invalid_token", 'a "quoted" \\ text\r\nX-Evil: 1 é'),
        'https://x/"\\',
    ).decode()
    assert '\\"quoted\\"' not in value
    assert value == (
        'Bearer error="invalid_token", error_description="a ?quoted? ? text??X-Evil: 1 ?",'
        ' resource_metadata="https://x/\\"\\\\"'
    )


AUTH_PARAM = r'[a-z_]+="(?:[^"\\]|\\.)*"'


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.text(max_size=30), st.booleans())
def test_any_description_and_scope_make_a_well_formed_challenge(
    text: str, scope: str, oauth: bool
) -> None:
    value = challenge(
        Refusal(403, "insufficient_scope", text, scope=scope), META if oauth else None
    ).decode("ascii")
    assert re.fullmatch(rf"Bearer {AUTH_PARAM}(?:, {AUTH_PARAM})*", value), value
    assert all(32 <= ord(c) < 127 for c in value)
