"""The catalogs of the servers' scopes kept across restarts: written a
little after they change (never per request), read back at start, dropped
with their server's entry (changed or removed), a corrupt file logged and
ignored, and no credential, token or principal's name on disk. A gateway
that starts again answers a scope key it listed before without a probe
child. Fake children on a fake reactor, files in a temporary folder."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mcpgateway.core.catalogdata import Catalog, catalogDigest, entryOf
from mcpgateway.core.gateway.catalog import Catalogs
from mcpgateway.core.gateway.catalogserve import CatalogServe
from mcpgateway.core.gateway.gateway import Gateway
from mcpgateway.core.pools.factory import makePool
from mcpgateway.core.pools.pool import PoolLike
from mcpgateway.core.pools.scopecatalog import ScopeCatalog
from mcpgateway.core.pools.scopecatalogfile import (
    MAX_KEYS,
    SAVE_DELAY,
    SavedScopeCatalogs,
    fromRecord,
    recordOf,
)
from mcpgateway.core.pools.serverpool import ServerPool
from mcpgateway.core.sessions import Session
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.scopecatalogstore import ScopeCatalogStore
from mcpgateway.protocol import jsonrpc
from tests.fakes import FakeProcessReactor, capturedGatewayLogs, fakeSpawner
from tests.support.core.pools.own_server import OWN
from tests.support.core.pools.scopecatalogs import ListeningSession, answer, initialize
from tests.support.json_values import jsonScalars, jsonValues

SPEC = dataclasses.replace(OWN, env=(("API_TOKEN", "spec-secret-value"),))
ENTRY = entryOf(SPEC)
KEY = "0123456789abcdef0123456789abcdef"


def scopeCatalog(tools: tuple[str, ...] = ("echo",), taken: float = 5.0) -> ScopeCatalog:
    lists = {
        "tools": tuple({"name": name} for name in tools),
        "prompts": (),
        "resources": (),
        "resourceTemplates": (),
    }
    info: dict[str, Any] = {"name": "own", "version": "1"}
    caps: dict[str, Any] = {"tools": {}}
    catalog = Catalog(
        server="own",
        catalogKey=KEY,
        source="probe",
        taken=taken,
        digest=catalogDigest(lists, info, caps, None),
        lists=lists,
        serverInfo=info,
        capabilities=caps,
        entry=ENTRY,
    )
    return ScopeCatalog(catalog, "2025-06-18")


class Host:
    """The gateway as a L{CatalogServe} reads it."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs


def folder(case: SynchronousTestCase) -> Path:
    """A new empty folder, removed after C{case}."""
    path = Path(tempfile.mkdtemp())
    case.addCleanup(shutil.rmtree, path, True)
    return path


class SavedCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.state = folder(self)
        self.store = ScopeCatalogStore(self.state)
        self.clock = Clock()
        self.saved = self.started(self.store)

    def started(
        self, store: ScopeCatalogStore, entries: dict[str, str] | None = None
    ) -> SavedScopeCatalogs:
        saved = SavedScopeCatalogs(self.clock, store)
        self.successResultOf(saved.start(lambda: {"own": ENTRY} if entries is None else entries))
        return saved

    def file(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.store.pathOf("own").read_bytes())
        return loaded


class SavingTests(SavedCase):
    def test_a_catalog_is_written_after_the_delay_and_read_back(self) -> None:
        self.saved.put("own", ENTRY, KEY, scopeCatalog())
        self.assertEqual(self.store.writes, 0)  # not on the caller's turn
        self.clock.advance(SAVE_DELAY)
        self.assertEqual(self.store.writes, 1)
        path = self.store.pathOf("own")
        self.assertEqual(path, self.state / "catalogs" / "scopes" / "own.json")
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(path.parent.stat().st_mode), 0o700)
        again = self.started(ScopeCatalogStore(self.state))
        known = again.get("own", ENTRY, KEY)
        assert known is not None
        self.assertEqual([t["name"] for t in known.catalog.items("tools")], ["echo"])
        self.assertEqual(known.protocolVersion, "2025-06-18")
        self.assertEqual(known.catalog.digest, scopeCatalog().catalog.digest)
        self.assertEqual(known.catalog.source, "snapshot")

    def test_changes_within_the_delay_are_one_write_and_the_same_again_none(self) -> None:
        for n in range(5):
            self.saved.put("own", ENTRY, KEY, scopeCatalog(("echo", f"t{n}")))
        self.clock.advance(SAVE_DELAY)
        self.assertEqual(self.store.writes, 1)
        self.saved.put("own", ENTRY, KEY, scopeCatalog(("echo", "t4"), taken=99.0))
        self.clock.advance(SAVE_DELAY)
        self.assertEqual(self.store.writes, 1)  # listed the same again: nothing to write

    def test_the_stop_writes_what_changed_at_once(self) -> None:
        self.saved.put("own", ENTRY, KEY, scopeCatalog())
        self.successResultOf(self.saved.stop())
        self.assertEqual(self.store.writes, 1)
        self.assertEqual(list(self.file()["catalogs"]), [KEY])
        self.clock.advance(SAVE_DELAY)
        self.assertEqual(self.store.writes, 1)

    def test_the_stop_waits_for_a_write_in_a_thread(self) -> None:
        threads: list[Deferred[Any]] = []

        def later(f: Any, *args: Any) -> Deferred[Any]:
            threads.append(Deferred())
            threads[-1].addCallback(lambda _: f(*args))
            return threads[-1]

        saved = SavedScopeCatalogs(self.clock, self.store, later)
        saved.loaded = True
        saved.put("own", ENTRY, KEY, scopeCatalog())
        stopping = saved.stop()
        self.assertNoResult(stopping)
        threads[0].callback(None)
        self.successResultOf(stopping)
        self.assertEqual(self.store.writes, 1)

    def test_at_most_so_many_keys_are_kept_the_oldest_go(self) -> None:
        for n in range(MAX_KEYS + 1):
            key = f"{n:032x}"
            self.saved.put("own", ENTRY, key, scopeCatalog(taken=float(n)))
        self.successResultOf(self.saved.stop())
        keys = self.file()["catalogs"]
        self.assertEqual(len(keys), MAX_KEYS)
        self.assertNotIn(f"{0:032x}", keys)

    def test_a_catalog_with_a_ttl_read_back_expires_when_it_did(self) -> None:
        known = scopeCatalog(taken=10.0)
        catalog = dataclasses.replace(known.catalog, ttls={"tools": 2000}, expires={"tools": 12.0})
        read = fromRecord("own", KEY, recordOf(ScopeCatalog(catalog, None)))
        assert read is not None
        self.assertEqual(read.catalog.expiresAt(), 12.0)
        self.assertIsNone(read.protocolVersion)


JSON = jsonValues(jsonScalars(floats=st.floats(allow_nan=False)), leaves=12)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        name: JSON
        for name in (
            "tools",
            "resources",
            "taken",
            "ttlMs",
            "private",
            "entry",
            "protocolVersion",
            "capabilities",
            "serverInfo",
        )
    },
)


@settings(max_examples=200, deadline=None)
@given(RECORDS | st.dictionaries(st.text(max_size=8), JSON, max_size=4))
def test_a_saved_record_of_any_shape_is_a_catalog_or_none(record: dict[str, Any]) -> None:
    known = fromRecord("own", KEY, record)
    if known is not None:
        assert isinstance(known.catalog.taken, float)
        assert all(isinstance(item, dict) for item in known.catalog.items("tools"))
        assert known.protocolVersion is None or isinstance(known.protocolVersion, str)
    assert fromRecord("own", KEY, {**record, "taken": 10**400}) is None
    forever = fromRecord("own", KEY, {"taken": 1.0, "ttlMs": {"tools": 10**400}})
    assert forever is not None and forever.catalog.expiresAt() is not None


class InvalidationTests(SavedCase):
    def test_another_entry_drops_the_servers_catalogs_and_its_file(self) -> None:
        self.saved.put("own", ENTRY, KEY, scopeCatalog())
        self.clock.advance(SAVE_DELAY)
        other = entryOf(dataclasses.replace(SPEC, args=("--changed",)))
        self.assertIsNone(self.saved.get("own", other, KEY))
        self.assertIsNone(self.saved.get("own", ENTRY, KEY))  # gone for good
        self.clock.advance(SAVE_DELAY)
        self.assertFalse(self.store.pathOf("own").exists())

    def test_a_removed_server_s_file_goes(self) -> None:
        self.saved.put("own", ENTRY, KEY, scopeCatalog())
        self.clock.advance(SAVE_DELAY)
        self.saved.forget("own")
        self.clock.advance(SAVE_DELAY)
        self.assertFalse(self.store.pathOf("own").exists())

    def test_at_start_the_files_of_entries_gone_or_changed_are_removed(self) -> None:
        self.saved.put("own", ENTRY, KEY, scopeCatalog())
        self.successResultOf(self.saved.stop())
        changed = self.started(ScopeCatalogStore(self.state), {"own": "f" * 32})
        self.clock.advance(SAVE_DELAY)
        self.assertFalse(self.store.pathOf("own").exists())
        self.assertIsNone(changed.get("own", ENTRY, KEY))
        self.saved.put("own", ENTRY, KEY, scopeCatalog())
        self.successResultOf(self.saved.stop())
        gone = self.started(ScopeCatalogStore(self.state), {})
        self.clock.advance(SAVE_DELAY)
        self.assertFalse(self.store.pathOf("own").exists())
        self.assertIsNone(gone.get("own", ENTRY, KEY))

    def test_a_corrupt_file_is_logged_ignored_and_replaced_by_the_next_save(self) -> None:
        path = self.store.pathOf("own")
        path.parent.mkdir(parents=True)
        junks = {
            b'{"version": 1, "server": "own", "entry"': "is not JSON",
            b'{"version": 9, "server": "own"}': "is not of version 1",
            b'{"version": 1, "server": "other"}': "names another server",
            b"[1]": "is not a JSON object",
        }
        for junk, why in junks.items():
            path.write_bytes(junk)
            with capturedGatewayLogs() as events:
                saved = self.started(ScopeCatalogStore(self.state))
            self.assertIsNone(saved.get("own", ENTRY, KEY))
            [warning] = [e["warning"] for e in events if "warning" in e]
            self.assertIn(why, warning)
            self.assertEqual(path.read_bytes(), junk)  # left in place
        saved.put("own", ENTRY, KEY, scopeCatalog())
        self.successResultOf(saved.stop())
        self.assertEqual(list(self.file()["catalogs"]), [KEY])

    def test_a_saved_catalog_of_another_entry_inside_a_file_is_ignored(self) -> None:
        record = recordOf(scopeCatalog())
        record["entry"] = "e" * 32
        path = self.store.pathOf("own")
        path.parent.mkdir(parents=True)
        body = {"version": 1, "server": "own", "entry": ENTRY, "catalogs": {KEY: record}}
        path.write_text(json.dumps(body))
        self.assertIsNone(self.started(ScopeCatalogStore(self.state)).get("own", ENTRY, KEY))


class PoolCase(SynchronousTestCase):
    """Pools of two gateway processes, one after the other, on one state folder."""

    spec = SPEC

    def setUp(self) -> None:
        self.state = folder(self)
        self.saved: SavedScopeCatalogs | None = None
        self.restart()

    def restart(self, spec: ServerSpec | None = None, persist: bool = True) -> None:
        """A new process: a new reactor and pool, the saved catalogs read again."""
        if self.saved is not None:
            self.successResultOf(self.saved.stop())
        self.reactor = FakeProcessReactor()
        store = ScopeCatalogStore(self.state) if persist else None
        self.saved = SavedScopeCatalogs(self.reactor, store)
        self.pool = self.makePool(spec or self.spec)
        pool = self.pool
        self.successResultOf(self.saved.start(lambda: {pool.spec.name: entryOf(pool.spec)}))

    def makePool(self, spec: ServerSpec) -> PoolLike:
        pool = makePool(spec, fakeSpawner(self.reactor))
        pool.catalogSource = CatalogServe(Host(Catalogs(self.reactor)))
        assert isinstance(pool, ServerPool)
        pool.scopeStartup.saved = self.saved
        return pool

    def open(self, session: Session) -> Any:
        return self.pool.open(session, initialize(session))

    def probed(self, session: Session) -> None:
        opened = self.open(session)
        self.assertEqual(len(self.reactor.spawned), 1)  # the probe
        answer(self.reactor.lastProcess)
        self.reactor.advance(10)
        self.assertIn("result", self.successResultOf(opened))

    def tools(self, session: Session) -> list[str]:
        listed = self.pool.forward(session, jsonrpc.request(7, "tools/list", {}), None)
        return [tool["name"] for tool in self.successResultOf(listed)["result"]["tools"]]


class RestartTests(PoolCase):
    def test_a_scope_listed_before_a_restart_starts_no_probe_after_it(self) -> None:
        self.probed(ListeningSession("s0", "own"))
        self.restart()
        sessions = [ListeningSession(f"s{n}", "own") for n in range(1, 6)]
        for session in sessions:
            answered = self.successResultOf(self.open(session))
            self.assertEqual(answered["result"]["serverInfo"], {"name": "own", "version": "1"})
            self.assertEqual(self.tools(session), ["echo"])
        self.assertEqual(self.reactor.spawned, [])
        called = self.pool.forward(
            sessions[0], jsonrpc.request(8, "tools/call", {"name": "echo"}), None
        )
        self.assertEqual(len(self.reactor.spawned), 1)  # that session's own child, no probe
        answer(self.reactor.lastProcess)
        self.assertEqual(self.successResultOf(called)["result"]["called"], "tools/call")

    def test_without_the_saved_catalogs_a_restart_probes_again(self) -> None:
        self.probed(ListeningSession("s0", "own"))
        self.restart(persist=False)
        self.probed(ListeningSession("s1", "own"))

    def test_a_changed_entry_probes_again(self) -> None:
        self.probed(ListeningSession("s0", "own"))
        self.restart(dataclasses.replace(SPEC, args=("--verbose",)))
        self.probed(ListeningSession("s1", "own"))

    def test_a_start_up_waits_for_the_saved_catalogs_to_be_read(self) -> None:
        self.probed(ListeningSession("s0", "own"))
        assert self.saved is not None
        self.successResultOf(self.saved.stop())
        self.reactor = FakeProcessReactor()
        reading: list[Deferred[Any]] = []

        def later(f: Any, *args: Any) -> Deferred[Any]:
            reading.append(Deferred())
            return reading[-1].addCallback(lambda _: f(*args))

        self.saved = SavedScopeCatalogs(self.reactor, ScopeCatalogStore(self.state), later)
        self.pool = self.makePool(SPEC)
        started = self.saved.start(lambda: {"own": ENTRY})
        opened = self.open(ListeningSession("s1", "own"))
        self.assertNoResult(opened)
        reading[0].callback(None)
        self.successResultOf(started)
        self.assertIn("result", self.successResultOf(opened))
        self.assertEqual(self.reactor.spawned, [])


class NoSecretTests(PoolCase):
    spec = dataclasses.replace(SPEC, mode="credential", credentialEnv=("TOKEN",))

    def test_no_credential_token_or_principal_name_is_written(self) -> None:
        session = ListeningSession("s0", "own")
        session.principal = "principal-key-of-alice"
        variant = self.pool.variantFor(
            "", "credential-hash", (("TOKEN", "s3cr3t-t0ken"),), session.principal
        )
        assert variant is not None
        session.variant = variant
        self.probed(session)
        assert self.saved is not None
        self.successResultOf(self.saved.stop())
        [path] = (self.state / "catalogs" / "scopes").iterdir()
        data = path.read_bytes()
        self.assertIn(b'"echo"', data)
        for secret in (b"s3cr3t-t0ken", b"credential-hash", b"alice", b"spec-secret-value"):
            self.assertNotIn(secret, data)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)


class GatewayTests(SynchronousTestCase):
    def test_the_gateway_reads_saves_and_forgets_its_scopes_catalogs(self) -> None:
        state = folder(self)
        store = ScopeCatalogStore(state)

        def started() -> tuple[FakeProcessReactor, Gateway]:
            reactor = FakeProcessReactor()
            gateway = Gateway({"own": SPEC}, fakeSpawner(reactor), scopeStore=store)
            gateway.start()
            return reactor, gateway

        def opened(gateway: Gateway) -> Any:
            _, answering = gateway.opener.openSession("own", initialize_(), "2025-06-18")
            return answering

        reactor, gateway = started()
        answering = opened(gateway)
        answer(reactor.lastProcess)
        reactor.advance(10)
        self.assertIn("result", self.successResultOf(answering))
        self.successResultOf(gateway.stop())
        self.assertTrue(store.pathOf("own").exists())
        reactor, gateway = started()
        self.assertIn("result", self.successResultOf(opened(gateway)))
        self.assertEqual(reactor.spawned, [])  # no probe
        self.successResultOf(gateway.reconfigurer.reconfigure({}))
        reactor.advance(SAVE_DELAY)
        self.assertFalse(store.pathOf("own").exists())


def initialize_() -> dict[str, Any]:
    return jsonrpc.request(
        0,
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c"}},
    )
