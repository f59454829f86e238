"""What tests/web/pages/test_statuspage.py shares with the other tests: ALLOWED_TAGS,
HTML, Page, _serverSavings, frames, statusPage."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from mcpgateway.core.status import ServerSavings
from mcpgateway.web.pages.statuspage import StatusPage
from mcpgateway.web.root import GatewayRoot
from tests.http import Harness, Response

HTML = "text/html"


class Page(HTMLParser):
    """The tags, attributes and texts of a page, by where they are."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {}
        """Text by the class (else the tag) of every element it is in."""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = (tag, dict(attrs))
        self.tags.append(element)
        if tag not in ("meta", "br", "img", "input", "link"):
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        keys = {attrs.get("class") or tag for tag, attrs in self.stack}
        for key in keys:
            self.texts.setdefault(key, []).append(data)

    def text(self, key: str) -> str:
        return "".join(self.texts.get(key, []))


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "span", "noscript",
    "p", "code", "main", "section", "dl", "div", "dt", "dd", "table", "thead", "tbody", "tr",
    "th", "td", "button", "b", "pre", "script", "link", "a", "figure", "figcaption", "svg", "nav",
    "ul", "li", "ol", "label", "select", "option", "input", "textarea", "progress",
}  # fmt: skip


def _serverSavings(**figures: Any) -> ServerSavings:
    base: dict[str, Any] = {
        "sessions": 4,
        "children": 1,
        "processes": 2,
        "pssBytes": 40 << 20,
        "rssBytes": 50 << 20,
        "cpuSeconds": 1.5,
        "processesPerLaunch": 2.0,
        "bytesPerLaunch": 40 << 20,
        "measure": "pss",
        "wrapper": "npx",
        "wrappersAvoided": 3,
        "wrapperBytes": None,
        "processesAvoided": 9,
        "memoryAvoidedBytes": 120 << 20,
    }
    return ServerSavings(**{**base, **figures})


def statusPage(h: Harness) -> StatusPage:
    root = h.site.resource
    assert isinstance(root, GatewayRoot)
    return root._statusPage()


def frames(response: Response) -> list[dict[str, Any]]:
    return [json.loads(f[6:]) for f in response.body.split(b"\n\n") if f.startswith(b"data: ")]
