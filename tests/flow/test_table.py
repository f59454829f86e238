"""The shipped table (L{mcpgateway.flow.table}): a server is known by the
package its command line runs, or its URL's host, and each family's tools
get what they read and send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.flow.labels import Label, Labels
from mcpgateway.flow.table import TABLE, KnownServer, knownServer

NONE: Labels = frozenset()
U = frozenset({Label.UNTRUSTED})
P = frozenset({Label.PRIVATE})
E = frozenset({Label.EGRESS})
UP = U | P
UE = U | E


def row(name: str) -> KnownServer:
    return next(known for known in TABLE if known.name == name)


def labelsOf(command: str, args: list[str], tool: str) -> Labels | None:
    known = knownServer(command, args)
    assert known is not None, (command, args)
    return known.forTool(tool)


@pytest.mark.parametrize(
    ("command", "args", "name"),
    [
        ("npx", ["-y", "@modelcontextprotocol/server-filesystem", "/home/u"], "filesystem"),
        ("npx", ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/h"], "filesystem"),
        ("uvx", ["mcp-server-fetch"], "fetch"),
        ("uvx", ["mcp-server-fetch==2025.4.7"], "fetch"),
        ("python", ["-m", "mcp_server_fetch"], "fetch"),
        ("docker", ["run", "-i", "--rm", "mcp/fetch"], "fetch"),
        ("docker", ["run", "-i", "--rm", "docker.io/mcp/fetch:latest"], "fetch"),
        ("/usr/local/bin/github-mcp-server", ["stdio"], "github"),
        ("docker", ["run", "-i", "ghcr.io/github/github-mcp-server:v0.9"], "github"),
        ("https://api.githubcopilot.com/mcp/", [], "github"),
        ("node", ["/u/node_modules/@playwright/mcp/cli.js"], "playwright"),
        ("C:\\Tools\\GitHub-MCP-Server.exe", [], "github"),
        ("npx", ["@playwright/mcp@latest", "--browser", "chrome"], "playwright"),
        ("https://mcp.context7.com/mcp", [], "context7"),
    ],
)
def test_a_server_is_known_by_the_package_it_runs(command: str, args: list[str], name: str) -> None:
    known = knownServer(command, args)
    assert known is not None and known.name == name


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("npx", ["-y", "some-mcp-server"]),
        ("python", ["server.py"]),
        ("https://example.com/mcp", []),
        ("npx", ["-y", "@modelcontextprotocol/server-filesystem-extra"]),
        ("fetch", []),  # a program's name alone is not the package
        ("node", ["/srv/mcp/fetch/server.js"]),  # an image's name is no folder
    ],
)
def test_an_unknown_server_is_not_in_the_table(command: str, args: list[str]) -> None:
    assert knownServer(command, args) is None


def test_the_first_word_that_names_a_server_decides() -> None:
    filesystem = "@modelcontextprotocol/server-filesystem"
    known = knownServer("npx", ["-y", filesystem, "/w/mcp-server-git"])
    assert known is not None and known.name == "filesystem"


@given(st.text(max_size=30), st.lists(st.text(max_size=30), max_size=4))
def test_any_command_line_is_known_or_not(command: str, args: list[str]) -> None:
    known = knownServer(command, args)
    assert known is None or known in TABLE


def test_every_row_ends_with_a_pattern_for_every_tool() -> None:
    """A tool a server adds later gets the row's labels, not its own word."""
    assert [known.name for known in TABLE if known.forTool("some_new_tool") is None] == []


def test_fetch_reads_untrusted_and_sends_what_its_url_carries() -> None:
    assert labelsOf("uvx", ["mcp-server-fetch"], "fetch") == UE


def test_filesystem_reads_are_private_and_its_writes_stay_local() -> None:
    fs = ["@modelcontextprotocol/server-filesystem", "/h"]
    for tool in ("read_text_file", "read_multiple_files", "list_directory", "search_files"):
        assert labelsOf("npx", fs, tool) == P
    assert labelsOf("npx", fs, "edit_file") == P  # it answers with the diff
    for tool in ("write_file", "create_directory", "move_file"):
        assert labelsOf("npx", fs, tool) == NONE


def test_git_reads_are_private_and_its_changes_stay_local() -> None:
    assert labelsOf("uvx", ["mcp-server-git"], "git_log") == P
    assert labelsOf("uvx", ["mcp-server-git"], "git_diff_unstaged") == P
    assert labelsOf("uvx", ["mcp-server-git"], "git_commit") == NONE


def test_memory_gives_back_the_users_data_and_keeps_what_it_is_given() -> None:
    memory = ["@modelcontextprotocol/server-memory"]
    assert labelsOf("npx", memory, "read_graph") == P
    assert labelsOf("npx", memory, "search_nodes") == P
    assert labelsOf("npx", memory, "create_entities") == NONE


def test_github_others_writing_is_untrusted_repositories_private_changes_egress() -> None:
    gh = ("github-mcp-server", ["stdio"])
    for tool in ("get_issue", "list_issues", "get_issue_comments", "pull_request_read"):
        assert labelsOf(*gh, tool) == U, tool
    for tool in ("list_notifications", "get_discussion", "get_pull_request_reviews"):
        assert labelsOf(*gh, tool) == U, tool
    for tool in ("get_file_contents", "search_code", "list_commits", "get_me"):
        assert labelsOf(*gh, tool) == P, tool
    for tool in ("create_issue", "add_issue_comment", "create_pull_request", "push_files"):
        assert labelsOf(*gh, tool) == E, tool
    for tool in ("merge_pull_request", "issue_write", "create_or_update_file", "fork_repository"):
        assert labelsOf(*gh, tool) == E, tool


def test_a_browser_page_is_untrusted_and_acting_on_it_is_egress() -> None:
    pw = ["@playwright/mcp"]
    assert labelsOf("npx", pw, "browser_snapshot") == U
    assert labelsOf("npx", pw, "browser_take_screenshot") == U
    for tool in ("browser_navigate", "browser_click", "browser_type", "browser_evaluate"):
        assert labelsOf("npx", pw, tool) == UE
    assert labelsOf("npx", pw, "browser_close") == NONE
    puppeteer = ["@modelcontextprotocol/server-puppeteer"]
    assert labelsOf("npx", puppeteer, "puppeteer_screenshot") == U
    assert labelsOf("npx", puppeteer, "puppeteer_navigate") == UE


def test_slack_messages_are_untrusted_and_private_and_posting_is_egress() -> None:
    slack = ["@modelcontextprotocol/server-slack"]
    assert labelsOf("npx", slack, "slack_get_channel_history") == UP
    assert labelsOf("npx", slack, "slack_get_thread_replies") == UP
    assert labelsOf("npx", slack, "slack_reply_to_thread") == E
    assert labelsOf("npx", slack, "slack_post_message") == E
    assert labelsOf("npx", slack, "slack_add_reaction") == E
    assert labelsOf("npx", slack, "slack_list_channels") == P
    assert labelsOf("npx", slack, "slack_get_users") == P
    assert labelsOf("npx", ["slack-mcp-server"], "conversations_history") == UP
    assert labelsOf("npx", ["slack-mcp-server"], "conversations_add_message") == E


def test_mail_read_is_untrusted_and_private_sending_is_egress_a_draft_stays() -> None:
    gmail = ["@gongrzhe/server-gmail-autoauth-mcp"]
    assert labelsOf("npx", gmail, "read_email") == UP
    assert labelsOf("npx", gmail, "search_emails") == UP
    assert labelsOf("npx", gmail, "send_email") == E
    assert labelsOf("npx", gmail, "draft_email") == NONE
    assert labelsOf("npx", gmail, "modify_email") == NONE
    assert labelsOf("uvx", ["mcp-email-server"], "get_emails_content") == UP
    assert labelsOf("uvx", ["mcp-email-server"], "send_email") == E


def test_search_and_documents_are_untrusted_without_egress() -> None:
    assert labelsOf("npx", ["@modelcontextprotocol/server-brave-search"], "brave_web_search") == U
    assert labelsOf("npx", ["@upstash/context7-mcp"], "get-library-docs") == U


def test_thinking_and_time_carry_no_label() -> None:
    thinking = ["@modelcontextprotocol/server-sequential-thinking"]
    assert labelsOf("npx", thinking, "sequentialthinking") == NONE
    assert labelsOf("uvx", ["mcp-server-time"], "get_current_time") == NONE


def test_each_family_has_its_test() -> None:
    """A row added to the table gets a test of its own above."""
    assert {known.name for known in TABLE} == {
        "fetch",
        "filesystem",
        "git",
        "memory",
        "github",
        "playwright",
        "puppeteer",
        "slack",
        "email",
        "brave-search",
        "context7",
        "sequential-thinking",
        "time",
    }
