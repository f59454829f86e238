# -*- test-case-name: tests.bridge.test_client -*-
"""Finding the bridge's gateway, and finding it again after it went away.

L{GatewayFinder} probes C{/health} with a bounded backoff on the clock,
finding the gateway anew each time (it is given a C{locate} function: the
state directory says where the gateway listens now), starting one when none
ever ran (C{start}), and bringing the link up once it answers. A start that
fails because another gateway holds the state directory (several bridges
started at once: the client starts every server together) is not a failure:
the finder waits for that gateway, and only when it lets go of the state
directory without ever serving does what waits get an error. It also says
why the gateway cannot be reached, for those errors and the log.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent, IResponse

from mcpgateway.bridge.link import Link, LinkState
from mcpgateway.remote.sse import readBody, reasonOf
from mcpgateway.runtime import logs

BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0)
"""Seconds between probes of a gateway that went away (then every 2 s)."""
NO_GATEWAY = "no gateway is running"
NOT_CONNECTED = "not connected yet"
"""Why the gateway is not reached before the first probe said anything."""


class GatewayFinder:
    """Probes for the gateway until the link is up.

    @param clock: the reactor's clock (the backoff).
    @param agent: the HTTP client.
    @param link: the link it brings up.
    @param locate: the gateway server's MCP URL, or C{None} when no gateway
        runs; called on every attempt.
    @param onUp: called once the link is up (again).
    @param failWaiting: answers every waiting request with the text given:
        no gateway will come.
    @param bug: logs a failure no one expected, saying what was being done.
    @param start: starts a gateway; its Deferred fires with C{None}, or with
        why it could not. Tried once, when no gateway runs at the first attempt.
    @param starting: whether another gateway holds the state directory (is
        starting there): a start that failed then waits for that one.
    @param timeout: seconds a request waits for an unreachable gateway (for
        the messages).
    @ivar downReason: why the gateway is not reached now.
    """

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        clock: IReactorTime,
        agent: IAgent,
        link: Link,
        locate: Callable[[], str | None],
        onUp: Callable[[], None],
        failWaiting: Callable[[str], None],
        bug: Callable[[Failure, str], None],
        *,
        start: Callable[[], Deferred[str | None]] | None = None,
        starting: Callable[[], bool] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._clock = clock
        self._agent = agent
        self._link = link
        self._locate = locate
        self._onUp = onUp
        self._failWaiting = failWaiting
        self._bug = bug
        self._start = start
        self.starting = starting
        self._timeout = timeout
        self._noGateway = NO_GATEWAY
        """Why no gateway was found (the reason given when none is)."""
        self._waitingForOther = False
        self._attempt = 0
        self._retry: IDelayedCall | None = None
        self._startTried = False
        self._everUp = False
        self.downReason = NOT_CONNECTED

    def connect(self) -> None:
        """Find (or start) the gateway now, unless already at it."""
        if self._retry is None and self._link.state is LinkState.DOWN:
            self._schedule(0)

    def lost(self, reason: str) -> None:
        """The gateway went away (the link is down): find it again."""
        self.downReason = reason
        self._attempt = 0
        self._schedule(BACKOFF[0])

    def stop(self) -> None:
        """No more probes (the end)."""
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None

    def unreachable(self) -> str:
        """Why the gateway cannot be reached: the one at its URL, or none
        found where the bridge looks."""
        link = self._link
        if link.url is not None:
            return f"the gateway at {link.url} is not reachable ({self.downReason})"
        where = f" on {link.lookedIn}" if link.lookedIn else ""
        reason = "" if self.downReason == NO_GATEWAY else f" ({self.downReason})"
        return f"{NO_GATEWAY}{where}{reason}"

    def stillLooking(self) -> str:
        """What the wait at stdin's end is for when no gateway is reached yet."""
        link = self._link
        if self.downReason == NOT_CONNECTED:
            where = (
                f" at {link.url}" if link.url else f" on {link.lookedIn or 'its state directory'}"
            )
            now = f"not connected to the gateway{where} yet"
        else:
            now = self.unreachable()
        return (
            f"; {now}: still trying, and a request still waiting for it"
            f" {self._timeout:g} s after it was read gets an error"
        )

    def _schedule(self, delay: float) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = self._clock.callLater(delay, self._probe)

    def _backoff(self) -> None:
        self._attempt += 1
        self._schedule(BACKOFF[min(self._attempt, len(BACKOFF) - 1)])

    def _probe(self) -> None:
        self._retry = None
        if self._link.state is not LinkState.DOWN:
            return
        url = self._locate()
        if url is None:
            if self._start is not None and not self._startTried and not self._everUp:
                self._startTried = True
                self.log.info("no gateway is running: starting one")
                self._start().addBoth(self._startDone)
                return
            if self._waitingForOther and not self._otherStarting():
                self._otherEnded()
            self.downReason = self._noGateway
            self._backoff()
            return
        self._waitingForOther = False
        self._link.setUrl(url)
        parts = urlsplit(url)
        health = f"{parts.scheme}://{parts.netloc}/health".encode("ascii")
        d = self._agent.request(b"GET", health, self._link.probeHeaders, None)
        d.addCallbacks(self._probeAnswered, self._probeFailed)
        d.addErrback(self._bug, "probing the gateway")

    def _startDone(self, result: str | Failure | None) -> None:
        if self._link.state is LinkState.CLOSED:
            return
        if result is not None:
            why = result.getErrorMessage() if isinstance(result, Failure) else result
            lookedIn = self._link.lookedIn
            if self._locate() is not None or self._otherStarting():
                # Another bridge (or user) started one first: it holds the
                # state directory. Wait for it, requests queued.
                self.log.info(
                    "another gateway is starting on {where}: waiting for it (requests wait"
                    " up to {timeout} s)",
                    where=lookedIn or "its state directory",
                    timeout=f"{self._timeout:g}",
                )
                self._waitingForOther = True
                self._noGateway = self.downReason = (
                    "another gateway was starting there and did not answer in time"
                )
                self._schedule(BACKOFF[0])
                return
            self.log.error("could not start the gateway: {why}", why=why)
            self._noGateway = self.downReason = f"it could not be started: {why}"
            where = f" on {lookedIn}" if lookedIn else ""
            self._failWaiting(
                f"mcpgateway bridge: {NO_GATEWAY}{where} and it could not be started: {why}"
            )
        self._schedule(0)

    def _otherStarting(self) -> bool:
        return self.starting is not None and self.starting()

    def _otherEnded(self) -> None:
        """The gateway another start was making let go of the state
        directory without ever serving: its start failed."""
        self._waitingForOther = False
        self._noGateway = "the gateway another start was making stopped without serving"
        where = f" on {self._link.lookedIn}" if self._link.lookedIn else ""
        self.log.error(
            "the gateway another start was making{where} stopped without serving; its"
            " gateway.log says why",
            where=where,
        )
        self._failWaiting(
            f"mcpgateway bridge: the gateway another start was making{where} stopped"
            " without serving (its gateway.log says why)"
        )

    def _probeAnswered(self, response: IResponse) -> None:
        readBody(response)  # any HTTP answer: it is up; the connection goes back to the pool
        self._up()

    def _probeFailed(self, reason: Failure) -> None:
        if self._link.state is not LinkState.DOWN:
            return
        self.downReason = reasonOf(reason)
        self._backoff()

    def _up(self) -> None:
        link = self._link
        if link.state is not LinkState.DOWN:
            return
        link.state = LinkState.UP
        self._attempt = 0
        if self._everUp:
            self.log.info(
                "reconnected to the gateway at {url}{session}",
                url=link.url,
                session=f"; resuming session {link.sessionId}" if link.sessionId else "",
            )
        else:
            self.log.info("connected to {url}", url=link.url)
        self._everUp = True
        self._onUp()
