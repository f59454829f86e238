# -*- test-case-name: tests.web.endpoints.test_endpoint_parts,tests.web.endpoints.test_scopes_web -*-
"""The credential headers of the MCP endpoint's requests, read and checked.

One job: a request's C{X-Mcp-Env-*} headers against its server's
C{credentialEnv}. The listed ones give the credential set (keyed by the
gateway's L{WorkspaceKeys}) a session is opened with, and must give the
same set on every later request of that session; the others are ignored,
counted, and their names logged once (never a value).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger
from twisted.web.iweb import IRequest

from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.sessions import Session
from mcpgateway.protocol import jsonrpc
from mcpgateway.web.endpoints.backends import Backend
from mcpgateway.web.endpoints.credentials import (
    BadCredential,
    Credentials,
    ignoredCredentialHeaders,
    readCredentials,
)

Rebind = Callable[[Session, str, Credentials], bool]
"""Give a session restored from a previous process the credentials a
request gives (L{mcpgateway.core.gateway.foreignsessions.ForeignSessions.rebind});
whether it took them."""


class CredentialCheck:
    """The credential headers of one MCP endpoint's requests."""

    def __init__(
        self,
        backend: Backend,
        keys: WorkspaceKeys | None,
        rebind: Rebind,
        server: str,
        log: Logger,
    ) -> None:
        """
        @param backend: what serves the endpoint's sessions (its
            C{credentialEnv} names the headers a client may give).
        @param keys: keys credential sets; C{None}: credential headers are
            refused.
        @param log: where the names of ignored headers are logged.
        """
        self._backend = backend
        self._keys = keys
        self._rebind = rebind
        self._server = server
        self._log = log
        self.ignoredHeaders = 0
        """C{X-Mcp-Env-*} headers not listed in the entry's C{credentialEnv}: ignored."""
        self._ignoredNames: set[str] = set()

    def read(self, request: IRequest) -> tuple[str, Credentials]:
        """The credential key and values the request's C{X-Mcp-Env-*}
        headers give (C{("", ())} for none, or for a server without
        C{credentialEnv}); other such headers are counted and their names
        logged once.

        @raise BadCredential: see L{readCredentials}.
        """
        names = self._backend.credentialEnv
        if not names:
            self._ignored(ignoredCredentialHeaders(request, ()))
            return "", ()
        self._ignored(ignoredCredentialHeaders(request, names))
        values = readCredentials(request, names)
        if not values:
            return "", ()
        if self._keys is None:
            raise BadCredential("this endpoint takes no credential headers")
        return self._keys.credential(dict(values)), values

    def forEra2026(self, request: IRequest) -> tuple[str, Credentials] | str:
        """L{read} for a 2026 request: why they cannot be used, as text,
        instead of raising."""
        try:
            return self.read(request)
        except BadCredential as e:
            return str(e)

    def unusable(self, request: IRequest) -> str | None:
        """Why a credential header of C{request} cannot be used (C{None}:
        every one can, or the server takes none); the values are not
        compared with any session's."""
        if not self._backend.credentialEnv:
            return None
        try:
            self.read(request)
        except BadCredential as e:
            return str(e)
        return None

    def _ignored(self, names: list[str]) -> None:
        if not names:
            return
        self.ignoredHeaders += len(names)
        new = sorted(set(names) - self._ignoredNames)
        if new and len(self._ignoredNames) < 64:
            self._ignoredNames.update(new)
            self._log.warn(
                "server {server}: ignored the header(s) {names}: its entry does not list"
                ' them in "credentialEnv", so they never reach its children',
                server=self._server,
                names=", ".join(f"X-Mcp-Env-{name}" for name in new),
            )

    def problem(self, request: IRequest, session: Session) -> tuple[int, str] | None:
        """Why the request's credential headers do not fit C{session} (the
        JSON-RPC code and text), or C{None}. A header that cannot be used
        (L{BadCredential}: repeated, too long, not UTF-8) is C{-32600}, as on
        C{initialize}, and always HTTP 400; values that are not the
        session's are C{-32602}, in-band for a request. A session restored
        from a previous process (its values are never saved) is bound again
        to the values it gives."""
        if not self._backend.credentialEnv:
            return None
        try:
            credentialKey, credentials = self.read(request)
        except BadCredential as e:
            return jsonrpc.INVALID_REQUEST, str(e)
        if session.variant is None and session.credential:
            if not credentials:
                return jsonrpc.INVALID_PARAMS, (
                    "this session's credentials are not known to this gateway process (it"
                    " restarted): send its X-Mcp-Env-* headers again, or initialize again"
                )
            if self._rebind(session, credentialKey, credentials):
                return None
        elif not credentials or credentialKey == session.credential:
            return None
        return (
            jsonrpc.INVALID_PARAMS,
            "credentials differ from this session's; initialize again to use them",
        )
