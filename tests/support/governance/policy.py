"""What the policy tests share: TEAM, and ASK_AFTER_UNTRUSTED."""

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

ASK_AFTER_UNTRUSTED = """
@id("everyone") permit(principal, action, resource);
@id("ask-egress-after-untrusted") @approval("egress after untrusted content")
forbid(principal, action == Gateway::Action::"tools/call", resource)
when { resource.labels.contains("egress") && context.labels.contains("untrusted") };
"""
"""Everything allowed, but a call of an C{egress} tool by a client that has
read untrusted content waits for a person's yes."""
