# -*- test-case-name: tests.web.endpoints.test_mcp -*-
"""A JSON-RPC batch POSTed to the MCP endpoint (protocol 2025-03-26 only).

One job: a batch is checked whole before anything of it is acted on. It
is refused whole (empty, over the limit of messages, holding an
C{initialize}, an element that is not a JSON-RPC message), or each of its
requests gets its answer: the ones that can never succeed, C{ping}, and
those over the session's in-flight limit are answered by the gateway, the
others forwarded; its notifications and responses go to the backend.
"""

from __future__ import annotations

from typing import Any

from twisted.web.server import Request

from mcpgateway.httpbase.clienterrors import ClientErrors
from mcpgateway.protocol import envelope, jsonrpc
from mcpgateway.protocol.bounds import MessageBounds
from mcpgateway.protocol.jsonrpc import Kind, Message
from mcpgateway.web.endpoints.backends import Backend, SessionFinder
from mcpgateway.web.endpoints.credentialcheck import CredentialCheck
from mcpgateway.web.endpoints.endpointforwarder import EndpointForwarder
from mcpgateway.web.endpoints.refusals import EndpointRefusals
from mcpgateway.web.plumbing.replies import accepted
from mcpgateway.web.plumbing.requestcontext import contextOf


class BatchRequests:
    """The batches of one MCP endpoint."""

    def __init__(
        self,
        lookup: SessionFinder,
        credentials: CredentialCheck,
        forwarder: EndpointForwarder,
        backend: Backend,
        refusals: EndpointRefusals,
        clientErrors: ClientErrors,
        limits: MessageBounds,
    ) -> None:
        """
        @param lookup: finds the session a batch names.
        @param forwarder: forwards its requests and writes their answers.
        @param backend: takes its notifications and responses.
        @param clientErrors: notes the requests of a batch refused in-band.
        """
        self._lookup = lookup
        self._credentials = credentials
        self._forwarder = forwarder
        self._backend = backend
        self._refusals = refusals
        self._clientErrors = clientErrors
        self._maxBatch = limits.maxBatch
        self._maxInFlight = limits.maxInFlightPerSession

    def size(self, request: Request, batch: list[Any]) -> bytes | None:
        """The refusal of an empty batch (400) or one of more than
        C{maxBatch} messages (413), else C{None}."""
        if not batch:
            return self._refusals.refuse(
                request, 400, jsonrpc.INVALID_REQUEST, "Invalid Request: empty batch"
            )
        if len(batch) > self._maxBatch:
            return self._refusals.refuse(
                request,
                413,
                jsonrpc.INVALID_REQUEST,
                f"Invalid Request: a batch of {len(batch)} messages is over the"
                f" limit of {self._maxBatch}",
            )
        return None

    def post(self, request: Request, batch: list[Any], version: str | None) -> bytes | int:
        """A batch (of a size L{size} let through)."""
        refuse = self._refusals.refuse
        if any(isinstance(m, dict) and m.get("method") == "initialize" for m in batch):
            return refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: initialize must not be part of a batch",
            )
        session = self._lookup.session(request, version, None, contextOf(request))
        if isinstance(session, bytes):
            return session
        if session.protocolVersion != "2025-03-26":
            return refuse(
                request,
                400,
                jsonrpc.INVALID_REQUEST,
                "Invalid Request: batches are only allowed in protocol 2025-03-26",
            )
        differ = self._credentials.problem(request, session)
        if differ is not None:
            return refuse(request, 400, *differ)
        # Check everything before acting on anything: a batch is refused whole,
        # or each of its requests gets its answer.
        requests: list[Message] = []
        answers: list[Message] = []
        others: list[tuple[Kind, Message]] = []
        refusals: list[str] = []
        for index, item in enumerate(batch):
            kind = jsonrpc.classify(item)
            if kind is Kind.INVALID:
                return refuse(
                    request,
                    400,
                    jsonrpc.INVALID_REQUEST,
                    f"Invalid Request: batch element {index} is not a JSON-RPC message",
                )
            problem = envelope.check(item, kind)
            if problem is not None:
                if kind is not Kind.REQUEST or problem[0] == jsonrpc.INVALID_REQUEST:
                    return refuse(request, 400, problem[0], f"batch element {index}: {problem[1]}")
                answers.append(jsonrpc.errorResponse(item["id"], *problem))
                refusals.append(problem[1])
            elif kind is not Kind.REQUEST:
                others.append((kind, item))
            elif item["method"] == "ping":
                answers.append(jsonrpc.resultResponse(item["id"], {}))
            else:
                requests.append(item)
        room = max(self._maxInFlight - session.inFlight, 0)
        if len(requests) > room:
            for item in requests[room:]:
                answers.append(self._forwarder.busy(item, session.inFlight + room))
            refusals.append(answers[-1]["error"]["message"])
            requests = requests[:room]
        if refusals:
            self._clientErrors.note(
                request, 200, f"{len(refusals)} request(s) of a batch refused, first: {refusals[0]}"
            )
        for kind, item in others:
            if kind is Kind.NOTIFICATION:
                self._backend.notify(session, item)
            else:
                self._backend.answer(session, item)
        if not requests and not answers:
            return accepted(request)
        return self._forwarder.forward(request, session, requests, answers)
