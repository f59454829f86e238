# -*- test-case-name: tests.service.test_tap -*-
"""The twistd plugin's face: the gateway's options and its service tree.

C{twistd mcpgateway}, C{twist mcpgateway}, C{deploy/mcpgateway.tac} and
L{mcpgateway.launch} read L{Options} (or L{RunnerOptions}, which also
install the gateway's reactor) and call L{makeService}. The options live in
L{mcpgateway.service.options}, the wiring in L{mcpgateway.service.wiring};
this module only names what twistd looks for, so loading the plugin stays
cheap (the wiring's heavy imports happen inside L{makeService}).
"""

from __future__ import annotations

from mcpgateway.service.options import Options, RunnerOptions
from mcpgateway.service.wiring import makeService

__all__ = ["Options", "RunnerOptions", "makeService"]
