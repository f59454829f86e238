"""L{mcpgateway.runtime.lazyimport}: a deferred module is executed on first use, and
works as before from then on (idle RSS).

Each test runs in a fresh interpreter: deferring a module changes the
process's C{sys.modules}, and this one has imported Twisted's web already.
"""

from __future__ import annotations

from tests.support.runtime.fresh import freshJson


def test_the_web_tree_imports_without_twisteds_template_machinery() -> None:
    out = freshJson(
        "import json, sys\n"
        "from mcpgateway.runtime.lazyimport import deferImports\n"
        "deferred = deferImports()\n"
        "import twisted.web.server\n"
        "import mcpgateway.web.app\n"
        "before = sorted(m for m in ('twisted.web._template_util', 'hyperlink', 'xml.sax')"
        " if m in sys.modules)\n"
        "from twisted.web.util import redirectTo\n"  # the first use loads it
        "after = 'twisted.web._template_util' in sys.modules\n"
        "print(json.dumps({'deferred': deferred, 'before': before, 'after': after,"
        " 'same': sys.modules['twisted.web.util'] is twisted.web.util,"
        " 'redirect': redirectTo.__module__}))\n"
    )
    assert out["deferred"] == ["twisted.web.util"]
    assert out["before"] == []
    assert out["after"] is True
    assert out["same"] is True
    assert out["redirect"] == "twisted.web._template_util"


def test_an_error_page_renders_as_before() -> None:
    """Twisted's 500 page (traceback shown) reads C{twisted.web.util} only
    when a resource fails: it loads then and renders the page."""
    out = freshJson(
        "import json, sys\n"
        "from mcpgateway.runtime.lazyimport import deferImports\n"
        "deferImports()\n"
        "from twisted.internet.testing import StringTransport\n"
        "from twisted.web.resource import Resource\n"
        "from twisted.web.server import Site\n"
        "class Boom(Resource):\n"
        "    isLeaf = True\n"
        "    def render_GET(self, request):\n"
        "        raise ValueError('boom')\n"
        "site = Site(Boom())\n"
        "site.displayTracebacks = True\n"
        "loaded = 'twisted.web._template_util' in sys.modules\n"
        "transport = StringTransport()\n"
        "channel = site.buildProtocol(None)\n"
        "channel.makeConnection(transport)\n"
        "channel.dataReceived(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
        "body = transport.value()\n"
        "print(json.dumps({'loadedBefore': loaded, 'status': body.split(b'\\r\\n')[0].decode(),"
        " 'traceback': b'ValueError' in body and b'<html>' in body.lower(),"
        " 'loadedAfter': 'twisted.web._template_util' in sys.modules}))\n"
    )
    assert out == {
        "loadedBefore": False,
        "status": "HTTP/1.1 500 Internal Server Error",
        "traceback": True,
        "loadedAfter": True,
    }


def test_a_module_already_imported_or_missing_is_left_alone() -> None:
    out = freshJson(
        "import json\n"
        "import twisted.web.util\n"
        "from mcpgateway.runtime.lazyimport import deferImport\n"
        "print(json.dumps([deferImport('twisted.web.util'),"
        " deferImport('mcpgateway.no_such_module'), deferImport('no_such_package.x')]))\n"
    )
    assert out == [False, False, False]


def test_the_reactor_imports_without_its_udp_and_unix_socket_support() -> None:
    """Deferred before the reactor is imported, C{twisted.internet.udp} and
    C{twisted.internet.unix} are executed by the first UNIX socket (here a
    listening one, then a client connecting to it and a datagram port):
    they work as before."""
    out = freshJson(
        "import json, os, socket, sys, tempfile\n"
        "from mcpgateway.runtime.lazyimport import REACTOR_DEFERRED, deferImports\n"
        "deferred = deferImports(REACTOR_DEFERRED)\n"
        "from twisted.internet import reactor\n"
        "from twisted.internet.protocol import DatagramProtocol, Factory, Protocol\n"
        "markers = ('twisted.internet._multicast', 'twisted.python.sendmsg')\n"
        "before = sorted(m for m in markers if m in sys.modules)\n"
        "path = os.path.join(tempfile.mkdtemp(), 's')\n"
        "port = reactor.listenUNIX(path, Factory.forProtocol(Protocol))\n"
        "client = socket.socket(socket.AF_UNIX)\n"
        "client.connect(path)\n"
        "client.close()\n"
        "udp = reactor.listenUDP(0, DatagramProtocol(), interface='127.0.0.1')\n"
        "after = sorted(m for m in markers if m in sys.modules)\n"
        "import twisted.internet.unix as unix\n"
        "print(json.dumps({'deferred': deferred, 'before': before, 'after': after,"
        " 'port': type(port).__module__, 'same': sys.modules['twisted.internet.unix'] is unix,"
        " 'udp': udp.getHost().port > 0}))\n"
        "port.stopListening(); udp.stopListening()\n"
    )
    assert out == {
        "deferred": ["twisted.internet.udp", "twisted.internet.unix"],
        "before": [],
        "after": ["twisted.internet._multicast", "twisted.python.sendmsg"],
        "port": "twisted.internet.unix",
        "same": True,
        "udp": True,
    }
