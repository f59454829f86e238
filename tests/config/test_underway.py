"""While a reload of the servers is under way, the config service says so
(L{ConfigService.settling}), and the Deferred it gives fires once the
reload's servers are handed to the gateway: a request for a route that
reload writes into a client's file waits for it, never a 404."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock

from mcpgateway.config.configservice import ConfigSettings
from mcpgateway.config.underway import ReloadsUnderWay
from mcpgateway.core.spec import ServerSpec
from tests.support.config.polling import pollingService


def test_nothing_is_awaited_when_no_reload_is_under_way() -> None:
    assert ReloadsUnderWay().settling() is None


def test_the_waiters_fire_when_the_last_of_the_reloads_ends() -> None:
    reloads = ReloadsUnderWay()
    fired: list[str] = []
    with reloads.covering():
        first = reloads.settling()
        assert first is not None
        first.addCallback(lambda _: fired.append("first"))
        with reloads.covering():
            second = reloads.settling()
            assert second is not None
            second.addCallback(lambda _: fired.append("second"))
        assert fired == []  # one reload is still under way
    assert fired == ["first", "second"]
    assert reloads.settling() is None


def test_a_failed_reload_ends_too() -> None:
    reloads = ReloadsUnderWay()
    waiter: Deferred[None] | None = None
    with pytest.raises(OSError), reloads.covering():
        waiter = reloads.settling()
        raise OSError("the disk went away")
    assert waiter is not None and waiter.called
    assert reloads.settling() is None


def test_a_cancelled_waiter_is_forgotten() -> None:
    reloads = ReloadsUnderWay()
    with reloads.covering():
        waiter = reloads.settling()
        assert waiter is not None
        failures: list[Any] = []
        waiter.addErrback(failures.append)
        waiter.cancel()
        assert failures and failures[0].check(CancelledError)
    # Ending the reload does not fire it a second time (AlreadyCalledError).


def test_the_service_settles_once_the_reload_is_handed_to_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "srv"}}}))
    stateDir = tmp_path / "state"
    stateDir.mkdir()
    threads: list[tuple[Deferred[Any], Any]] = []

    def inThread(f: Any, *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        threads.append((done, lambda: f(*args)))
        return done

    handed: list[dict[str, ServerSpec]] = []
    order: list[str] = []

    def reload(specs: dict[str, ServerSpec]) -> None:
        handed.append(specs)
        order.append("handed")

    service = pollingService(
        config,
        stateDir,
        Clock(),
        reload,
        ConfigSettings(environ={"PATH": ""}),
        monkeypatch,
        inThread,
    )
    assert service.settling() is None
    service.reload()
    settled = service.settling()
    assert settled is not None
    settled.addCallback(lambda _: order.append("settled"))
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "srv"}, "b": {"command": "x"}}}))
    done, load = threads.pop()
    done.callback(load())
    assert order == ["handed", "settled"]
    assert set(handed[-1]) == {"a", "b"}
    assert service.settling() is None
