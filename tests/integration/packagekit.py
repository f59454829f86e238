"""Packages the gateway installs itself (C{npx -y PKG}, C{uvx PKG}) in
the integration tests, served on loopback: a counter server as an npm
package and as a Python wheel, and a registry that serves both (npm's
metadata and tarballs, a PEP 503 simple index). The counter keeps its
count in memory and answers C{count=N pid=P}
(L{tests.integration.restartkit.count}), so a test sees whether the
process that answers is the one the gateway installed and started."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

from tests.integration.gateway import REPO
from tests.integration.sandboxkit import npmPack

NAME = "counter-kept-mcp"
VERSION = "1.0.0"
NODE_COUNTER = r"""#!/usr/bin/env node
let count = 0;
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  let result = {};
  if (m.method === 'initialize') {
    result = { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} },
               serverInfo: { name: 'counter', version: '1' } };
  } else if (m.method === 'tools/list') {
    result = { tools: [{ name: 'count', inputSchema: { type: 'object' } }] };
  } else if (m.method === 'tools/call') {
    count += 1;
    result = { content: [{ type: 'text', text: 'count=' + count + ' pid=' + process.pid }] };
  }
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\n');
});
"""
PACKAGE = {"name": NAME, "version": VERSION, "bin": {NAME: "server.js"}}
WHEEL_NAME = "counter_kept_mcp"


def npmCounter(where: Path) -> Path:
    """The npm package of the counter, packed by npm: its tarball."""
    source = where / NAME
    source.mkdir(parents=True)
    (source / "package.json").write_text(json.dumps(PACKAGE))
    (source / "server.js").write_text(NODE_COUNTER)
    (source / "server.js").chmod(0o755)
    return npmPack(source, where)


def pythonCounter() -> bytes:
    """The Python counter's wheel (L{tests.fixtures} C{counter_server.py}
    as the module of a C{counter-kept-mcp} console script)."""
    source = (REPO / "tests" / "fixtures" / "counter_server.py").read_bytes()
    info = f"{WHEEL_NAME}-{VERSION}.dist-info"
    files = {
        f"{WHEEL_NAME}/__init__.py": b"",
        f"{WHEEL_NAME}/server.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": (
            f"[console_scripts]\n{NAME} = {WHEEL_NAME}.server:main\n".encode()
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return out.getvalue()


class PackageIndex:
    """An npm registry and a Python simple index on loopback, serving the
    counter; it records the paths asked for. C{npmUrl} and C{pythonUrl} go
    in an entry's C{npm_config_registry} and C{UV_INDEX_URL}."""

    def __init__(self, tarball: Path) -> None:
        self.tarball = tarball.read_bytes()
        self.wheel = pythonCounter()
        self.asked: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.npmUrl = base
        self.pythonUrl = base + "simple/"
        self.tarballPath = f"/{NAME}/-/{NAME}-{VERSION}.tgz"
        self.wheelFile = f"{WHEEL_NAME}-{VERSION}-py3-none-any.whl"
        integrity = hashlib.sha512(self.tarball).digest()
        manifest = {
            **PACKAGE,
            "dist": {
                "tarball": base + self.tarballPath[1:],
                "integrity": "sha512-" + base64.b64encode(integrity).decode(),
                "shasum": hashlib.sha1(self.tarball).hexdigest(),  # npm's own field
            },
        }
        self.document = json.dumps(
            {"name": NAME, "dist-tags": {"latest": VERSION}, "versions": {VERSION: manifest}}
        ).encode()
        digest = hashlib.sha256(self.wheel).hexdigest()
        self.simple = (
            f'<html><body><a href="/files/{self.wheelFile}#sha256={digest}">{self.wheelFile}</a>'
            "</body></html>"
        ).encode()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _answer(self, path: str) -> tuple[bytes, str] | None:
        if path == f"/{NAME}":
            return self.document, "application/json"
        if path == self.tarballPath:
            return self.tarball, "application/octet-stream"
        if path.rstrip("/") in (f"/simple/{NAME}", f"/simple/{WHEEL_NAME}"):
            return self.simple, "text/html"
        if path == f"/files/{self.wheelFile}":
            return self.wheel, "application/octet-stream"
        return None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self, head: bool = False) -> None:
                index.asked.append(self.path)
                found = index._answer(self.path.split("?", 1)[0])
                if found is None:
                    self.send_error(404)
                    return
                body, kind = found
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
