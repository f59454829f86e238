"""The gateway's request does what Twisted's does, byte for byte, with less work."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.http import datetimeToString
from twisted.web.resource import EncodingResourceWrapper, Resource
from twisted.web.server import NOT_DONE_YET, GzipEncoderFactory, Request, Site
from twisted.web.test.requesthelper import DummyChannel

from mcpgateway.tuned.request import GatewayRequest, responseHead


class TwistedRequest(Request):
    """Twisted's request as the gateway configures it (no default
    C{Content-Type}: every gateway response sets its own)."""

    defaultContentType = None


class LeanChannel(DummyChannel):
    """A channel that lets the request send its head with its body."""

    leanWrites = True


class Recorder(Resource):
    """A leaf that answers with what the request looked like to it."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def render(self, request: Any) -> int:
        self.seen.append(
            {
                "method": request.method,
                "uri": request.uri,
                "path": request.path,
                "args": request.args,
                "prepath": request.prepath,
                "postpath": request.postpath,
                "clientproto": request.clientproto,
                "body": request.content.read(),
                "site": request.site,
                "sitepath": request.sitepath,
                "headers": sorted(
                    (k, v) for k, v in request.responseHeaders.getAllRawHeaders() if k != b"Date"
                ),
            }
        )
        return NOT_DONE_YET


def received(
    request: Request, method: bytes, uri: bytes, body: bytes, version: bytes = b"HTTP/1.1"
) -> None:
    request.gotLength(len(body))
    request.handleContentChunk(body)
    request.requestReceived(method, uri, version)


segment = st.text(alphabet=st.sampled_from("abz019-_.~%20%2F%41é?=&+"), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"POST", b"DELETE", b"get"]),
    path=st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    body=st.binary(max_size=40),
    version=st.sampled_from([b"HTTP/1.0", b"HTTP/1.1"]),
)
def test_a_request_reads_as_twisteds_does(
    method: bytes, path: str, body: bytes, version: bytes
) -> None:
    uri = path.encode("utf-8")
    seen = []
    for factory, channelClass in ((GatewayRequest, LeanChannel), (Request, DummyChannel)):
        recorder = Recorder()
        channel = channelClass()
        channel.site = Site(recorder, reactor=Clock())
        if factory is Request:
            request = Request(channel, parsePOSTFormSubmission=False)
        else:
            request = GatewayRequest(channel)
        received(request, method, uri, body, version)
        assert len(recorder.seen) == 1
        seen.append({**recorder.seen[0], "site": recorder.seen[0]["site"] is channel.site})
    assert seen[0] == seen[1]


class Branch(Resource):
    """A resource that is no leaf: its children are found by name, and
    one it does not have is a L{Recorder} made on the spot."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def getChild(self, path: bytes, request: Any) -> Resource:
        return self.recorder

    def render(self, request: Any) -> int:
        return self.recorder.render(request)


def treeOf(recorder: Recorder) -> Resource:
    """A root with a branch C{a} (whose children are all C{recorder}),
    a leaf C{b}, and C{recorder} for anything else."""
    root = Branch(recorder)
    root.putChild(b"a", Branch(recorder))
    root.putChild(b"b", recorder)
    return root


@settings(max_examples=60, deadline=None)
@given(
    path=st.lists(st.sampled_from(["a", "b", "c", "", "mcp"]), min_size=1, max_size=5).map(
        lambda parts: "/" + "/".join(parts)
    ),
)
def test_a_resource_is_found_along_the_path_as_twisted_finds_it(path: str) -> None:
    seen = []
    for factory, channelClass in ((GatewayRequest, LeanChannel), (Request, DummyChannel)):
        recorder = Recorder()
        channel = channelClass()
        channel.site = Site(treeOf(recorder), reactor=Clock())
        request = factory(channel)
        received(request, b"POST", path.encode(), b"{}")
        assert len(recorder.seen) == 1
        seen.append({**recorder.seen[0], "site": recorder.seen[0]["site"] is channel.site})
    assert seen[0] == seen[1]


def test_the_resource_is_found_without_twisteds_two_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lookup goes through neither C{copy.copy} nor
    C{getChildForRequest} (Twisted's own request does: the check's check)."""
    import twisted.web.resource

    walks: list[object] = []
    walk = twisted.web.resource.getChildForRequest

    def counted(resource: Any, request: Any) -> Any:
        walks.append(request)
        return walk(resource, request)

    monkeypatch.setattr(twisted.web.resource, "getChildForRequest", counted)
    for factory, channelClass, expected in (
        (GatewayRequest, LeanChannel, 0),
        (Request, DummyChannel, 1),
    ):
        walks.clear()
        recorder = Recorder()
        channel = channelClass()
        channel.site = Site(treeOf(recorder), reactor=Clock())
        received(factory(channel), b"POST", b"/a/mcp", b"{}")
        assert (len(walks), len(recorder.seen)) == (expected, 1)


def test_a_site_with_its_own_lookup_is_asked() -> None:
    recorder = Recorder()
    asked: list[Any] = []

    class OwnLookup(Site):
        def getResourceFor(self, request: Any) -> Any:
            asked.append(request)
            request.sitepath = []
            return recorder

    channel = LeanChannel()
    channel.site = OwnLookup(Resource(), reactor=Clock())
    request = GatewayRequest(channel)
    received(request, b"POST", b"/a/b", b"{}")
    assert asked == [request]
    assert len(recorder.seen) == 1


def test_form_bodies_are_left_alone_and_parsed_only_when_asked() -> None:
    form = b"a=1&b=2"
    for parse, args in (
        (False, {b"q": [b"x"]}),
        (True, {b"q": [b"x"], b"a": [b"1"], b"b": [b"2"]}),
    ):
        recorder = Recorder()
        channel = LeanChannel()
        channel.site = Site(recorder, reactor=Clock())
        request = GatewayRequest(channel, parsePOSTFormSubmission=parse)
        request.requestHeaders.setRawHeaders(
            b"content-type", [b"application/x-www-form-urlencoded"]
        )
        received(request, b"POST", b"/form?q=x", form)
        assert recorder.seen[0]["args"] == args


def test_the_date_header_comes_from_the_sites_clock_once_a_second() -> None:
    clock = Clock()
    clock.advance(1_700_000_000.25)
    recorder = Recorder()
    channel = LeanChannel()
    channel.site = Site(recorder, reactor=clock)
    dates = []
    for step in (0.0, 0.5, 0.5):
        clock.advance(step)
        request = GatewayRequest(channel)
        received(request, b"GET", b"/", b"")
        dates.append(request.responseHeaders.getRawHeaders(b"date"))
    first = datetimeToString(1_700_000_000)
    second = datetimeToString(1_700_000_001)
    assert dates == [[first], [first], [second]]


def test_the_path_star_is_answered_as_twisted_answers_it() -> None:
    outputs = []
    for factory, channelClass in ((GatewayRequest, LeanChannel), (Request, DummyChannel)):
        channel = channelClass()
        channel.site = Site(Recorder(), reactor=Clock())
        request = factory(channel)
        received(request, b"OPTIONS", b"*", b"")
        written = channel.transport.written.getvalue()
        outputs.append(
            b"\r\n".join(line for line in written.split(b"\r\n") if not line.startswith(b"Date:"))
        )
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"HTTP/1.1 200 OK")


class Raises(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        raise ValueError("boom")


def test_a_resource_that_raises_is_a_500_as_in_twisted() -> None:
    channel = LeanChannel()
    channel.site = Site(Raises(), reactor=Clock())
    channel.site.displayTracebacks = False
    request = GatewayRequest(channel)
    received(request, b"GET", b"/", b"")
    written = channel.transport.written.getvalue()
    assert written.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert written.endswith(b"<b>Processing Failed</b></body></html>")
    assert request.finished


HEADER_NAMES = st.sampled_from(
    [b"content-type", b"content-length", b"x-one", b"X-Two", b"cache-control", b"mcp-session-id"]
)
HEADER_VALUES = st.binary(max_size=8).filter(lambda v: b"\r" not in v and b"\n" not in v)


@st.composite
def responses(draw: Any) -> dict[str, Any]:
    return {
        "method": draw(st.sampled_from([b"GET", b"POST", b"HEAD", b"DELETE"])),
        "version": draw(st.sampled_from([b"HTTP/1.0", b"HTTP/1.1"])),
        "code": draw(st.sampled_from([200, 202, 204, 304, 400, 404, 500])),
        "headers": draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4)),
        "etag": draw(st.one_of(st.none(), st.just(b'"v1"'))),
        "lastModified": draw(st.one_of(st.none(), st.just(1_700_000_000))),
        "cookie": draw(st.booleans()),
        "writes": draw(st.lists(st.binary(max_size=12), max_size=4)),
        "finish": draw(st.booleans()),
        "lateWrite": draw(st.booleans()),
        "lostAt": draw(st.one_of(st.none(), st.integers(0, 4))),
        "defaultType": draw(st.one_of(st.none(), st.just(b"text/html"))),
    }


def answer(request: Request, response: dict[str, Any]) -> tuple[bytes, Any]:
    """What C{request} writes for C{response}, and the exception a write
    after the end raised (its type), if one did."""
    request.method = response["method"]
    request.clientproto = response["version"]
    request.setResponseCode(response["code"])
    for name, value in response["headers"]:
        request.setHeader(name, value)
    if response["etag"] is not None:
        request.setETag(response["etag"])
    if response["lastModified"] is not None:
        request.lastModified = response["lastModified"]
    if response["cookie"]:
        request.addCookie(b"k", b"v")
    request.defaultContentType = response["defaultType"]
    for n, data in enumerate(response["writes"]):
        if n == response["lostAt"]:
            request.connectionLost(Failure(ConnectionDone()))
        request.write(data)
    raised: type[Exception] | None = None
    if response["finish"]:
        try:
            request.finish()
        except RuntimeError as e:  # after a lost connection, as Twisted says
            raised = type(e)
        if response["lateWrite"]:
            try:
                request.write(b"late")
            except Exception as e:
                raised = type(e)
    transport: Any = request.transport
    return transport.written.getvalue(), raised


@settings(max_examples=150, deadline=None)
@given(response=responses())
def test_a_response_is_written_as_twisted_writes_it(response: dict[str, Any]) -> None:
    ours = GatewayRequest(LeanChannel())
    theirs = TwistedRequest(DummyChannel(), parsePOSTFormSubmission=False)
    assert answer(ours, response) == answer(theirs, response)
    assert (ours.sentLength, ours.chunked, ours.startedWriting, ours.finished) == (
        theirs.sentLength,
        theirs.chunked,
        theirs.startedWriting,
        theirs.finished,
    )


def test_the_head_and_the_first_piece_of_body_go_in_one_write() -> None:
    channel = LeanChannel()
    writes: list[bytes] = []
    channel.write = writes.append  # type: ignore[method-assign]
    request = GatewayRequest(channel)
    request.clientproto = b"HTTP/1.1"
    request.setHeader(b"content-type", b"text/event-stream")
    request.write(b"data: 1\n\n")
    request.write(b"data: 2\n\n")
    assert writes == [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n",
        b"9\r\ndata: 2\n\n\r\n",
    ]


def test_a_channel_without_lean_writes_gets_twisteds_two_writes() -> None:
    channel = DummyChannel()
    request = GatewayRequest(channel)
    request.clientproto = b"HTTP/1.1"
    request.setHeader(b"content-length", b"2")
    calls: list[str] = []
    original = channel.writeHeaders

    def writeHeaders(*args: Any) -> None:
        calls.append("head")
        original(*args)

    channel.writeHeaders = writeHeaders  # type: ignore[method-assign]
    request.write(b"ok")
    assert calls == ["head"]
    assert channel.transport.written.getvalue().endswith(b"\r\n\r\nok")


def test_the_head_is_what_twisteds_channel_writes() -> None:
    request = GatewayRequest(LeanChannel())
    request.setHeader(b"x-a", b"1")
    request.responseHeaders.addRawHeader(b"x-a", b"2")
    request.setHeader(b"content-length", b"0")
    channel = DummyChannel()
    channel.writeHeaders(b"HTTP/1.1", b"200", b"OK", request.responseHeaders)
    assert responseHead(b"HTTP/1.1", b"200", b"OK", request.responseHeaders) == (
        channel.transport.written.getvalue()
    )


def test_a_request_has_every_attribute_twisteds_has() -> None:
    ours = GatewayRequest(DummyChannel())
    theirs = Request(DummyChannel())
    assert set(vars(theirs)) <= set(vars(ours)) | set(GatewayRequest.__slots__)
    assert ours.queued is False
    assert GatewayRequest(DummyChannel(), queued=False).queued is False


class Scripted(Resource):
    """A leaf whose render runs a script on the request."""

    isLeaf = True

    def __init__(self, script: Any) -> None:
        super().__init__()
        self.script = script

    def render(self, request: Any) -> Any:
        return self.script(request)


def gzipped(request: Any) -> int:
    request.write(b"abc" * 30)
    request.write(b"def" * 30)
    request.finish()
    return NOT_DONE_YET


def failsAfterItsHead(request: Any) -> bytes:
    request.write(b"part")
    raise ValueError("boom")


@pytest.mark.parametrize("script", [gzipped, failsAfterItsHead])
def test_encoders_and_failures_are_written_as_twisted_writes_them(script: Any) -> None:
    outputs = []
    for factory, channelClass in ((GatewayRequest, LeanChannel), (TwistedRequest, DummyChannel)):
        channel = channelClass()
        resource = EncodingResourceWrapper(Scripted(script), [GzipEncoderFactory()])
        channel.site = Site(resource, reactor=Clock())
        channel.site.displayTracebacks = False
        request = factory(channel, parsePOSTFormSubmission=False)
        request.requestHeaders.addRawHeader(b"accept-encoding", b"gzip")
        received(request, b"GET", b"/x", b"")
        lines = channel.transport.written.getvalue().split(b"\r\n")
        outputs.append(
            (
                b"\r\n".join(line for line in lines if not line.startswith(b"Date:")),
                request.finished,
                request.sentLength,
            )
        )
    assert outputs[0] == outputs[1]
    assert b"Content-Encoding: gzip" in outputs[0][0]


def test_the_first_write_tells_the_channel_the_head_is_out() -> None:
    class Counting(LeanChannel):
        heads = 0

        def headOut(self) -> None:
            self.heads += 1

    channel = Counting()
    request = GatewayRequest(channel)
    request.clientproto = b"HTTP/1.1"
    request.write(b"a")
    request.write(b"b")
    assert channel.heads == 1


def test_unknown_arguments_are_refused_as_twisted_refuses_them() -> None:
    with pytest.raises(TypeError):
        GatewayRequest(DummyChannel(), False, True)
    with pytest.raises(TypeError):
        GatewayRequest(DummyChannel(), nonsense=1)
    assert GatewayRequest(DummyChannel(), True).queued is True
