# -*- test-case-name: tests.cli.test_main -*-
"""C{python -m mcpgateway.cli}: the C{mcpgateway} command (the integration
tests run it so)."""

import sys

from mcpgateway.cli.main import main

sys.exit(main())
