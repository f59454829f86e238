"""C{python -m mcpgateway.bridge SERVER|URL}: the bridge without the CLI."""

import sys

from mcpgateway.bridge.options import leaveOutTLS

leaveOutTLS(sys.argv[1:])

from mcpgateway.bridge.main import main  # noqa: E402  (after leaveOutTLS)

sys.exit(main())
