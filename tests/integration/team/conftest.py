"""On a failed cluster test, what the replicas and HAProxy said about it:
their warnings and errors and HAProxy's non-2xx lines, printed (pytest shows
them under the failure) and, whole, in a file beside the test's temporary
directory. A cluster failure under load is otherwise a client's exception
with no word from the gateway that made it."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import RunningCluster

WORTH_READING = ("warn", "error", "fail", "refus", "cannot", "Traceback", "Unhandled")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each phase's report kept on the item, for L{clusterWordsOnFailure}."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def clusterWordsOnFailure(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    yield
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for name in ("cluster", "fresh"):
        if name not in request.fixturenames:
            continue
        cluster = request.getfixturevalue(name)
        if not isinstance(cluster, RunningCluster):
            continue
        whole = tmp_path / "cluster-output.txt"
        whole.write_text(cluster.text())
        print(f"the cluster's output, whole: {whole}")
        for replica, gateway in cluster.replicas.items():
            lines = [
                ln for ln in gateway.text().splitlines() if any(w in ln for w in WORTH_READING)
            ]
            print(f"=== {replica}: {len(lines)} lines worth reading, the last 25")
            print("\n".join(ln[:400] for ln in lines[-25:]))
        print("=== haproxy, not 2xx:")
        print("\n".join(cluster.refusals()[-25:]))
