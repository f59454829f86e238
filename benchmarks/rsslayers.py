#!/usr/bin/env python3
"""Where an idle gateway's resident memory goes, layer by layer.

Each layer is a fresh interpreter that imports one more part of what
``python -m twisted mcpgateway`` loads, then reports its ``VmRSS`` and
``RssAnon`` from ``/proc/self/status`` (Linux only): the interpreter alone,
``asyncio`` (which Twisted's ``defer`` imports, and which brings ``ssl`` and
OpenSSL's start-up), the reactor, ``twisted.web.server``, the ``twist`` runner
with its plugin discovery, and the gateway's modules (``mcpgateway.tap`` and
the web tree it builds). The difference between two rows is what that layer
costs; the last row is close to an idle gateway (no sessions, no child).
Every layer leaves pyOpenSSL out, as a gateway that serves no TLS does
(C{startup/endpoints.leaveOutTLS}): with it, the reactor's layer would count
about 18 MB the gateway never loads.

Then the running processes, each started as the README starts the gateway
(C{twistd -n}, from this checkout, with a home of its own) and read 3 s after
it listens: the gateway with its bundled demo (the README's command, idle),
and the floor under it, C{twistd -n} serving a bare twisted.web C{Site} from
a plugin of its own with TLS left out the same way (what Twisted, twistd and
its plugin discovery hold before any gateway code).

Bytecode is written and read as an installed gateway's is (the variable
``PYTHONDONTWRITEBYTECODE`` is dropped): a stale ``.pyc`` compiled at import
would add its compiler's garbage to the figure.

Usage: rsslayers.py [--python PATH] [--rounds N] [--no-running]
(prints the tables and one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

GATEWAY_MODULES = ("mcpgateway.tap", "mcpgateway.web.app", "mcpgateway.core.gateway.gateway")

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("interpreter", ()),
    ("+ asyncio (ssl, OpenSSL)", ("asyncio",)),
    ("+ the reactor", ("twisted.internet.reactor",)),
    ("+ twisted.web.server", ("twisted.web.server",)),
    (
        "+ the twist runner, plugin discovery",
        ("twisted.application.twist._twist", "twisted.plugin"),
    ),
    ("+ the gateway's modules", GATEWAY_MODULES),
]

PROBE = """
import sys
sys.modules.setdefault("OpenSSL", None)  # as leaveOutTLS: no TLS endpoint
names = sys.argv[1:]
for name in names:
    __import__(name)
if "twisted.plugin" in names:
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins
    list(getPlugins(IServiceMaker))
fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(fields["VmRSS"].split()[0]), int(fields["RssAnon"].split()[0]), len(sys.modules))
"""


TWIST = ("twisted.internet.reactor", "twisted.application.twist._twist", "twisted.plugin")
LEAN = ("twisted.internet.reactor", "twisted.scripts.twistd")
VARIANTS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    (
        "twist, as above",
        (),
        (*TWIST, *GATEWAY_MODULES),
    ),
    (
        "twist under -OO (the service, the image)",
        ("-OO",),
        (*TWIST, *GATEWAY_MODULES),
    ),
    (
        "mcpgateway.launch (twistd, no discovery)",
        (),
        (*LEAN, *GATEWAY_MODULES),
    ),
    (
        "the same under -OO (mcpgateway start)",
        ("-OO",),
        (*LEAN, *GATEWAY_MODULES),
    ),
]
"""Ways to run the same gateway: (label, interpreter flags, modules). The
runners' own imports differ: C{twist}'s options list the reactors by plugin
discovery; L{mcpgateway.launch} runs twistd with no discovery at all."""


def measure(
    python: str, names: tuple[str, ...], flags: tuple[str, ...] = ()
) -> tuple[int, int, int]:
    """(VmRSS KiB, RssAnon KiB, modules) of a fresh C{python} (run with
    C{flags}) that imported C{names}."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [python, *flags, "-c", PROBE, *names], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]), int(out[2])


FLOOR_PLUGIN = """
from twisted.application.service import ServiceMaker

floor = ServiceMaker("rssfloor", "rssfloor_tap", "a bare twisted.web Site", "rssfloor")
"""

FLOOR_TAP = """
import sys

sys.modules.setdefault("OpenSSL", None)  # as the gateway leaves TLS out
from twisted.application import strports
from twisted.python import usage


class Options(usage.Options):
    optParameters = [["port", None, "tcp:0:interface=127.0.0.1", "where to listen"]]


def makeService(options):
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    return strports.service(options["port"], Site(Resource()))
"""


def running(python: str, argv: list[str], path: list[str], ready: bytes) -> tuple[int, int]:
    """(VmRSS KiB, RssAnon KiB) of C{python argv} (twistd), 3 s after a line of
    its log holds C{ready}; C{path} goes first on its C{PYTHONPATH}."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["HOME"] = home
        env["MCPGATEWAY_HOME"] = os.path.join(home, "state")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [*path, env.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            [python, "-c", "from twisted.scripts.twistd import run; run()", *argv],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 60
            for line in proc.stdout:
                if ready in line:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not start")
            else:
                raise RuntimeError(f"{argv} exited before listening")
            time.sleep(3)
            with open(f"/proc/{proc.pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            return int(fields["VmRSS"].split()[0]), int(fields["RssAnon"].split()[0])
        finally:
            proc.terminate()
            proc.wait(30)


def runningRows(python: str, rounds: int) -> list[dict[str, Any]]:
    """The README's command idle, and the bare twisted.web floor under it."""
    rows = []
    with tempfile.TemporaryDirectory() as plugins:
        os.makedirs(os.path.join(plugins, "twisted", "plugins"))
        with open(os.path.join(plugins, "twisted", "plugins", "rssfloor_plugin.py"), "w") as f:
            f.write(FLOOR_PLUGIN)
        with open(os.path.join(plugins, "rssfloor_tap.py"), "w") as f:
            f.write(FLOOR_TAP)
        runs = [
            (
                "twistd -n mcpgateway (the README's command)",
                [
                    "-n",
                    "--pidfile=",
                    "--logfile=-",
                    "mcpgateway",
                    "--port",
                    "tcp:0:interface=127.0.0.1",
                ],
                [str(REPO)],
                b"listening on",
            ),
            (
                "twistd -n, a bare twisted.web Site (the floor)",
                ["-n", "--pidfile=", "--logfile=-", "rssfloor"],
                [plugins],
                b"Site starting on",
            ),
        ]
        for label, argv, path, ready in runs:
            samples = [running(python, argv, path, ready) for _ in range(rounds)]
            rows.append(
                {
                    "process": label,
                    "rssKiB": statistics.median(s[0] for s in samples),
                    "anonKiB": statistics.median(s[1] for s in samples),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-running", action="store_true", help="the imports only")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    names: tuple[str, ...] = ()
    measure(args.python, LAYERS[-1][1])  # write any stale bytecode first
    for label, more in LAYERS:
        names += more
        samples = [measure(args.python, names) for _ in range(args.rounds)]
        rss = statistics.median(s[0] for s in samples)
        anon = statistics.median(s[1] for s in samples)
        rows.append({"layer": label, "rssKiB": rss, "anonKiB": anon, "modules": samples[0][2]})
    print(f"{'layer':40} {'RSS MiB':>8} {'+MiB':>6} {'anon MiB':>9} {'modules':>8}")
    previous = 0.0
    for row in rows:
        mib = row["rssKiB"] / 1024
        print(
            f"{row['layer']:40} {mib:8.1f} {mib - previous:+6.1f} "
            f"{row['anonKiB'] / 1024:9.1f} {row['modules']:8d}"
        )
        previous = mib
    variants: list[dict[str, Any]] = []
    for label, flags, names in VARIANTS:
        measure(args.python, names, flags)  # write this mode's bytecode first
        samples = [measure(args.python, names, flags) for _ in range(args.rounds)]
        variants.append(
            {
                "variant": label,
                "rssKiB": statistics.median(s[0] for s in samples),
                "anonKiB": statistics.median(s[1] for s in samples),
                "modules": samples[0][2],
            }
        )
    print()
    print(f"{'the whole gateway, run as':40} {'RSS MiB':>8} {'':>6} {'anon MiB':>9} {'modules':>8}")
    for row in variants:
        print(
            f"{row['variant']:40} {row['rssKiB'] / 1024:8.1f} {'':>6} "
            f"{row['anonKiB'] / 1024:9.1f} {row['modules']:8d}"
        )
    processes = [] if args.no_running else runningRows(args.python, args.rounds)
    if processes:
        print()
        print(f"{'running, idle':48} {'RSS MiB':>8} {'anon MiB':>9}")
        for row in processes:
            print(f"{row['process']:48} {row['rssKiB'] / 1024:8.1f} {row['anonKiB'] / 1024:9.1f}")
    print(
        json.dumps(
            {
                "python": args.python,
                "rounds": args.rounds,
                "layers": rows,
                "variants": variants,
                "running": processes,
            }
        )
    )


if __name__ == "__main__":
    main()
