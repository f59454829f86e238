# -*- test-case-name: tests.startup.test_tap -*-
"""The twistd plugin's face: the gateway's options and its service tree.

C{twistd mcpgateway}, C{twist mcpgateway}, C{deploy/mcpgateway.tac} and
L{mcpgateway.launch} read L{Options} (or L{RunnerOptions}, which also
install the gateway's reactor) and call L{makeService}. The options live in
L{mcpgateway.startup.options}, the wiring in L{mcpgateway.startup.wiring};
this module only names what twistd looks for, so loading the plugin stays
cheap (the wiring's heavy imports happen inside L{makeService}).
"""

from __future__ import annotations

from mcpgateway.startup.options import Options, RunnerOptions
from mcpgateway.startup.wiring import makeService

__all__ = ["Options", "RunnerOptions", "makeService"]
