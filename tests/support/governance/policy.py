"""What tests/governance/test_policy.py shares with the other tests: TEAM."""

from __future__ import annotations

TEAM = """
@id("analysts-read-public")
permit(principal in Gateway::Group::"analysts", action == Gateway::Action::"tools/call", resource)
when {
  resource.server == "files" && resource.name like "read_*" &&
  context.arguments has path && context.arguments.path like "/data/public/*"
};
@id("admins-all")
permit(principal in Gateway::Group::"admins", action, resource);
@id("no-shell")
forbid(principal, action, resource is Gateway::Tool) when { resource.name == "shell" };
"""
