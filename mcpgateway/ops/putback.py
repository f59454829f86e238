# -*- test-case-name: tests.ops.test_putback -*-
"""The adopted client entries of a gateway that did not stop cleanly, put
back as they were when another account holds the port they point at.

A gateway that crashed, was killed or lost its machine leaves every client
entry it adopted pointing at C{127.0.0.1:<port>}, and the port free for any
account on the machine to listen on. The door keeps other accounts out of
the gateway; nothing keeps the user's clients out of another account's
listener. So a gateway that cannot listen because another account holds
its port puts the adopted entries back (as C{mcpgateway restore} does)
before it stops (L{putBackEverything}), whichever way it was started:
C{mcpgateway start} does it before it launches the gateway
(L{mcpgateway.cli.portheld.putBack}), and the gateway itself does it under
C{twistd -n} or C{twist} (L{mcpgateway.ops.services.ListenerService}).

File work only, small and synchronous: the gateway calls it in a worker
thread.
"""

from __future__ import annotations

from os.path import realpath
from pathlib import Path

from mcpgateway.clientconfigs.backups import backupPaths
from mcpgateway.clientconfigs.claude import ClaudeConfig, hasBackup
from mcpgateway.clientconfigs.restoring import restoreAll
from mcpgateway.config.servers import ConfigError
from mcpgateway.ops.gatewayprobe import claudeConfigPath
from mcpgateway.ops.statedir import readState


def adoptionInEffect(stateDir: Path, claudeConfig: Path) -> bool:
    """Whether client files of C{stateDir}'s gateway are adopted and not
    put back: a backup of the Claude config C{claudeConfig} or of another
    client's file is there (the last gateway the user started with
    adoption did not stop cleanly). Kept copies of restored backups do not
    count."""
    return hasBackup(stateDir, claudeConfig) or bool(backupPaths(stateDir))


def putBackEverything(stateDir: Path) -> list[str]:
    """Put back every adopted entry of C{stateDir}'s last gateway: the
    Claude config it served (its C{state.json} names it, else
    C{~/.claude.json}), then every other client's file. What was done, a
    line each; nothing when nothing is adopted. A file that cannot be put
    back is a line saying so, and the others are still put back."""
    claudeConfig = claudeConfigPath(readState(stateDir))
    if not adoptionInEffect(stateDir, claudeConfig):
        return []
    said: list[str] = []
    failed = False
    try:
        report = ClaudeConfig(claudeConfig, stateDir).restore()
    except ConfigError as e:
        failed = True
        said.append(f"could not put back {claudeConfig}: {e} (run `mcpgateway restore`)")
    else:
        if report.restored:
            said.append(f"put back in {claudeConfig}: {', '.join(report.restored)}")
    others = restoreAll(stateDir)
    said.extend(others.messages())
    same = {f"could not restore {path} (" for path in (claudeConfig, realpath(claudeConfig))}
    said.extend(
        warning
        for warning in others.warnings
        if not (failed and any(warning.startswith(prefix) for prefix in same))
    )  # the Claude config's failure is said once
    return said
