"""What tests/cli/test_http.py shares with the other tests: FakeOpener."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class FakeOpener:
    """Answers by URL path: a JSON document, raw bytes, or an exception to raise."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, dict[str, str], bytes | None, float]] = []
        """method, URL, headers (lower-case names), body, timeout."""

    def open(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        data = request.data if isinstance(request.data, bytes) else None
        self.requests.append(
            (
                request.get_method(),
                request.full_url,
                {k.lower(): v for k, v in request.header_items()},
                data,
                timeout,
            )
        )
        answer = self.answers[urllib.parse.urlsplit(request.full_url).path]
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(answer if isinstance(answer, bytes) else json.dumps(answer).encode())
