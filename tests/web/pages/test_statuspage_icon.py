"""The status page's icon (web/pages/favicon.py): the page links C{/favicon.svg},
the gateway serves it and C{/favicon.ico} (the same SVG) for GET and HEAD,
to anyone (a team gateway's browser asks without the admin's token), with
nothing an SVG opened by itself could run."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from mcpgateway.web.pages.favicon import ICON
from tests.http import Harness
from tests.support.web.statuspage import HTML, Page
from tests.support.web.team_web import TeamHarness

SVG = "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize("path", ["/favicon.svg", "/favicon.ico"])
def test_the_icon_is_served_at_both_names(path: str) -> None:
    response = Harness().request("GET", path, accept="image/avif,image/webp,*/*")
    assert response.status == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.body == ICON
    svg = ElementTree.fromstring(response.body)
    assert svg.tag == SVG and svg.get("viewBox") == "0 0 32 32"
    assert not any(element.tag.endswith("script") for element in svg.iter())


def test_head_and_nothing_else() -> None:
    h = Harness()
    head = h.request("HEAD", "/favicon.ico", accept=None)
    assert head.status == 200 and head.body == b""
    refused = h.request("POST", "/favicon.svg", body={})
    assert refused.status == 405 and refused.headers["allow"] == "GET, HEAD"
    assert h.request("GET", "/favicon.svg/more", accept=None).status == 404


def test_the_page_links_it() -> None:
    h = Harness()
    response = h.request("GET", "/", accept=HTML)
    links = [attrs for tag, attrs in Page(response.body.decode()).tags if tag == "link"]
    icons = [link for link in links if link["rel"] == "icon"]
    assert icons == [{"rel": "icon", "href": "/favicon.svg", "type": "image/svg+xml"}]
    assert h.request("GET", links[0]["href"] or "", accept=None).status == 200


def test_a_team_gateway_serves_it_without_a_token() -> None:
    h = TeamHarness()
    assert h.request("GET", "/", accept=HTML).status == 401  # the page: admins only
    icon = h.request("GET", "/favicon.ico", accept=None)
    assert icon.status == 200 and icon.body == ICON
