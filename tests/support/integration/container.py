"""What tests/integration/host/test_container.py shares with the other tests:
IMAGE_RUNNER."""

from __future__ import annotations

IMAGE_RUNNER = ["python", "-P", "-OO", "-m", "twisted", "--reactor=mcpgateway"]
"""How the image runs the gateway (its CMD, and the k8s manifest's args, which
replace it): twist with mcpgateway.runtime.interpreter's flags, on the gateway's reactor."""
