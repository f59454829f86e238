"""Run C{twistd} with the gateway as its only plugin, as C{mcpgateway start} does.

What C{mcpgateway start} and the successor of C{mcpgateway restart} run::

    python -P -OO -m mcpgateway.launch [twistd options] mcpgateway [gateway options]

It is Twisted's own C{twistd} with one change: the plugin it can run is the
gateway's, given to it, instead of every C{IServiceMaker} that Twisted's plugin
discovery finds. Discovery reads every C{dropin.cache} on the path, and with it
imports C{twisted.trial} and C{unittest} (1.1 MiB the gateway never uses); a
stale cache makes it import every installed package's plugins into the gateway
for its whole life (pyOpenSSL among them, about 13 MB). C{twistd -n mcpgateway}
still works as before; this is the leaner way to run the same thing. (C{twist}
cannot be run so: its options list the reactors, found by discovery, when its
module is imported. The service unit and the container image run C{python -P
-OO -m twisted}.)

C{-OO} leaves docstrings (Twisted's are large) out of the loaded code: 2.5 MiB
of an idle gateway's RSS. Asserts go too; the gateway's own only narrow types
for the type checker. A child never inherits C{-OO} (it is a flag, not the
variable C{PYTHONOPTIMIZE}), so a Python MCP server keeps the docstrings its
tools are described by. L{mcpgateway.runtime.warmup} writes the C{-OO}
bytecode before a start, so that the gateway does not compile it (and keep the
compiler's garbage) on its first run after an install.

Daemonizing, C{twistd} sets the umask to C{0077} unless given C{--umask};
here the default is the umask the process was started with (L{withUmask}),
as under C{twistd -n}: the gateway's children write files as they would
when a client runs them. (C{mcpgateway start} passes the caller's; the
successor of C{mcpgateway restart} gets its predecessor's this way.)

Nothing here imports the reactor: the gateway's options install it (L{twistd}).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.application.service import IServiceMaker, ServiceMaker


class GatewayMaker(ServiceMaker):
    """The gateway's C{IServiceMaker}: Twisted's, whose options are
    L{mcpgateway.tap.RunnerOptions} (they install the gateway's reactor
    unless C{--reactor} named another), so C{twistd -n mcpgateway} and
    C{twist mcpgateway} run on the reactor C{mcpgateway start} uses."""

    @property
    def options(self) -> Any:
        from mcpgateway.tap import RunnerOptions

        return RunnerOptions

    def makeService(self, options: Any) -> Any:
        """The gateway's service, made with the garbage collector off.

        Making it imports most of the gateway (about 300 modules), and
        CPython's collector would run over a hundred times meanwhile,
        a full collection among them: about 75 ms, a tenth of a start's
        CPU, for next to nothing, since importing leaves little cyclic
        garbage. L{mcpgateway.runtime.gctuning.GcTuning} collects once at
        the reactor's first turn, freezes what is left, and turns the
        collector back on."""
        import gc

        gc.disable()
        return super().makeService(options)


GATEWAY = GatewayMaker(
    "MCP Gateway",
    "mcpgateway.tap",
    "Share stdio MCP servers between every client on this machine over Streamable HTTP.",
    "mcpgateway",
)
"""The gateway's C{IServiceMaker}: the plugin C{twistd mcpgateway} finds by
discovery (C{twisted/plugins/mcpgateway_plugin.py} names this object)."""


def onlyGateway(interface: Any, package: object = None) -> Iterable[IServiceMaker]:
    """In place of C{twisted.plugin.getPlugins}: the gateway's maker for
    C{IServiceMaker}, nothing for any other interface."""
    return [GATEWAY] if interface is IServiceMaker else []


def withUmask(argv: list[str], umask: int) -> list[str]:
    """C{argv} (C{twistd}'s, its program name first) with C{--umask}
    C{umask} among twistd's own options, unless it names one already."""
    options = argv[1 : argv.index("mcpgateway")] if "mcpgateway" in argv else argv[1:]
    if any(arg == "--umask" or arg.startswith("--umask=") for arg in options):
        return argv
    return [argv[0], f"--umask={umask:04o}", *argv[1:]]


def currentUmask() -> int:
    """This process's umask (set and put back at once: the only portable
    way to read it)."""
    import os

    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def twistd() -> None:
    """C{twistd}, reading C{sys.argv[1:]}, with the gateway as its only plugin
    and the umask it was started with (L{withUmask}).

    The reactor is left to the gateway's options, as under C{twistd -n
    mcpgateway}: L{mcpgateway.tap.RunnerOptions} installs the gateway's
    reactor once it has marked pyOpenSSL unavailable for a gateway that
    serves no TLS and deferred the reactor's UDP and UNIX-socket modules
    (L{mcpgateway.startup.endpoints.leaveOutTLS}), unless C{--reactor} named
    another or C{--twisted} is C{stock}. A reactor installed here, before
    those options are parsed, would import C{twisted.internet.tcp} and with
    it pyOpenSSL and cryptography: about 12 MiB more resident memory and
    50 ms more CPU on every start.

    The garbage collector is off from here on until the reactor's first
    turn, as in L{GatewayMaker.makeService}: twistd's own imports and the
    options' come first."""
    import gc
    import sys

    gc.disable()
    sys.argv[:] = withUmask(sys.argv, currentUmask())

    from twisted.application import app
    from twisted.scripts import twistd as script

    class ServerOptions(script.ServerOptions):  # type: ignore[name-defined]
        _getPlugins = staticmethod(onlyGateway)

    app.run(script.runApp, ServerOptions)


if __name__ == "__main__":
    import sys

    sys.argv[0] = "twistd"  # what its usage and error lines call it
    twistd()
