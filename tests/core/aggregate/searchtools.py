"""120 realistic tools in 12 domains (10 servers' worth each), for the
search tests: names, descriptions and parameters as real MCP servers write
them."""

from __future__ import annotations

from mcpgateway.core.aggregate.search import SearchRow

# (server, tool, description, {parameter: description})
_TOOLS: list[tuple[str, str, str, dict[str, str]]] = [
    # filesystem
    (
        "fs",
        "read_text_file",
        "Read the complete contents of a file from the file system as text.",
        {
            "path": "Path of the file to read",
            "head": "Only the first N lines",
            "tail": "Only the last N lines",
        },
    ),
    (
        "fs",
        "read_media_file",
        "Read an image or audio file and return its base64 data and MIME type.",
        {"path": "Path of the media file"},
    ),
    (
        "fs",
        "read_multiple_files",
        "Read the contents of several files at once.",
        {"paths": "Paths of the files"},
    ),
    (
        "fs",
        "write_file",
        "Create a new file or completely overwrite an existing file with new content.",
        {"path": "Where to write", "content": "Text to write"},
    ),
    (
        "fs",
        "edit_file",
        "Make line-based edits to a text file, returning a git-style diff.",
        {"path": "File to edit", "edits": "Replacements to apply", "dryRun": "Preview only"},
    ),
    (
        "fs",
        "create_directory",
        "Create a new directory or ensure a directory exists.",
        {"path": "Directory to create"},
    ),
    (
        "fs",
        "list_directory",
        "Get a detailed listing of all files and directories in a specified path.",
        {"path": "Directory to list"},
    ),
    (
        "fs",
        "move_file",
        "Move or rename files and directories.",
        {"source": "Current path", "destination": "New path"},
    ),
    (
        "fs",
        "search_files",
        "Recursively search for files and directories matching a glob pattern.",
        {
            "path": "Where to start",
            "pattern": "Glob pattern",
            "excludePatterns": "Patterns to skip",
        },
    ),
    (
        "fs",
        "get_file_info",
        "Retrieve metadata about a file or directory: size, creation time, permissions.",
        {"path": "File or directory"},
    ),
    # git
    (
        "git",
        "git_status",
        "Show the working tree status of a git repository.",
        {"repo_path": "Repository path"},
    ),
    (
        "git",
        "git_diff_unstaged",
        "Show changes in the working directory that are not yet staged.",
        {"repo_path": "Repository path"},
    ),
    (
        "git",
        "git_diff_staged",
        "Show changes that are staged for commit.",
        {"repo_path": "Repository path"},
    ),
    (
        "git",
        "git_commit",
        "Record staged changes to the repository with a commit message.",
        {"repo_path": "Repository path", "message": "Commit message"},
    ),
    (
        "git",
        "git_add",
        "Add file contents to the staging area.",
        {"repo_path": "Repository path", "files": "Files to stage"},
    ),
    (
        "git",
        "git_log",
        "Show the commit history of the repository.",
        {"repo_path": "Repository path", "max_count": "How many commits"},
    ),
    (
        "git",
        "git_create_branch",
        "Create a new branch from a base branch.",
        {"branch_name": "New branch", "base_branch": "Starting point"},
    ),
    (
        "git",
        "git_checkout",
        "Switch branches in the repository.",
        {"branch_name": "Branch to switch to"},
    ),
    ("git", "git_show", "Show the contents of a commit.", {"revision": "Commit hash or ref"}),
    (
        "git",
        "git_blame",
        "Show which revision and author last modified each line of a file.",
        {"path": "File to annotate"},
    ),
    # github
    (
        "github",
        "create_issue",
        "Create a new issue in a GitHub repository.",
        {
            "owner": "Repository owner",
            "repo": "Repository name",
            "title": "Issue title",
            "body": "Issue body",
        },
    ),
    (
        "github",
        "list_issues",
        "List issues in a GitHub repository with filtering options.",
        {
            "owner": "Repository owner",
            "repo": "Repository name",
            "state": "open or closed",
            "labels": "Filter by labels",
        },
    ),
    (
        "github",
        "create_pull_request",
        "Create a new pull request in a GitHub repository.",
        {
            "owner": "Owner",
            "repo": "Repository",
            "title": "PR title",
            "head": "Branch with changes",
            "base": "Target branch",
        },
    ),
    (
        "github",
        "merge_pull_request",
        "Merge a pull request.",
        {"pull_number": "Pull request number", "merge_method": "merge, squash or rebase"},
    ),
    ("github", "search_repositories", "Search for GitHub repositories.", {"query": "Search query"}),
    (
        "github",
        "get_file_contents",
        "Get the contents of a file or directory from a GitHub repository.",
        {
            "owner": "Owner",
            "repo": "Repository",
            "path": "Path in the repository",
            "branch": "Branch",
        },
    ),
    (
        "github",
        "fork_repository",
        "Fork a GitHub repository to your account or an organization.",
        {"owner": "Owner", "repo": "Repository"},
    ),
    (
        "github",
        "add_issue_comment",
        "Add a comment to an existing issue.",
        {"issue_number": "Issue number", "body": "Comment text"},
    ),
    (
        "github",
        "list_commits",
        "Get the list of commits of a branch in a GitHub repository.",
        {"sha": "Branch or commit"},
    ),
    (
        "github",
        "create_pull_request_review",
        "Create a review on a pull request.",
        {"pull_number": "Pull request number", "event": "APPROVE, REQUEST_CHANGES or COMMENT"},
    ),
    # browser
    ("browser", "browser_navigate", "Navigate the browser to a URL.", {"url": "The URL to open"}),
    (
        "browser",
        "browser_click",
        "Perform a click on an element of a web page.",
        {"element": "Element description", "ref": "Element reference"},
    ),
    (
        "browser",
        "browser_type",
        "Type text into an editable element.",
        {"ref": "Element reference", "text": "Text to type", "submit": "Press Enter after"},
    ),
    (
        "browser",
        "browser_take_screenshot",
        "Take a screenshot of the current page.",
        {"fullPage": "Capture the whole scrollable page"},
    ),
    ("browser", "browser_snapshot", "Capture an accessibility snapshot of the current page.", {}),
    ("browser", "browser_navigate_back", "Go back to the previous page.", {}),
    (
        "browser",
        "browser_fill_form",
        "Fill multiple form fields at once.",
        {"fields": "Fields to fill"},
    ),
    ("browser", "browser_console_messages", "Return all console messages of the page.", {}),
    (
        "browser",
        "browser_network_requests",
        "List all network requests since loading the page.",
        {},
    ),
    ("browser", "browser_close", "Close the browser page.", {}),
    # memory / knowledge graph
    (
        "memory",
        "create_entities",
        "Create multiple new entities in the knowledge graph.",
        {"entities": "Entities with name, type and observations"},
    ),
    (
        "memory",
        "create_relations",
        "Create multiple new relations between entities in the knowledge graph.",
        {"relations": "Relations from, to and type"},
    ),
    (
        "memory",
        "add_observations",
        "Add new observations to existing entities in the knowledge graph.",
        {"observations": "Observations per entity"},
    ),
    (
        "memory",
        "delete_entities",
        "Delete multiple entities and their relations from the knowledge graph.",
        {"entityNames": "Names to delete"},
    ),
    (
        "memory",
        "delete_observations",
        "Delete specific observations from entities.",
        {"deletions": "Observations to delete"},
    ),
    (
        "memory",
        "delete_relations",
        "Delete multiple relations from the knowledge graph.",
        {"relations": "Relations to delete"},
    ),
    ("memory", "read_graph", "Read the entire knowledge graph.", {}),
    (
        "memory",
        "search_nodes",
        "Search for nodes in the knowledge graph based on a query.",
        {"query": "Matches names, types and observations"},
    ),
    (
        "memory",
        "open_nodes",
        "Open specific nodes in the knowledge graph by their names.",
        {"names": "Entity names"},
    ),
    (
        "memory",
        "remember_fact",
        "Store a fact to remember across conversations.",
        {"fact": "What to remember"},
    ),
    # database
    (
        "postgres",
        "query",
        "Run a read-only SQL query against the PostgreSQL database.",
        {"sql": "The SQL statement"},
    ),
    (
        "postgres",
        "list_tables",
        "List the tables of the database schema.",
        {"schema": "Schema name"},
    ),
    (
        "postgres",
        "describe_table",
        "Describe the columns and types of a database table.",
        {"table": "Table name"},
    ),
    (
        "postgres",
        "explain_query",
        "Show the execution plan of a SQL query.",
        {"sql": "The SQL statement"},
    ),
    ("postgres", "list_indexes", "List the indexes of a table.", {"table": "Table name"}),
    (
        "postgres",
        "execute_statement",
        "Execute a SQL statement that modifies data (insert, update, delete).",
        {"sql": "The SQL statement"},
    ),
    ("postgres", "list_schemas", "List the schemas of the database.", {}),
    (
        "postgres",
        "table_size",
        "Report the disk size of a table and its indexes.",
        {"table": "Table name"},
    ),
    ("postgres", "active_queries", "List the queries currently running on the server.", {}),
    (
        "postgres",
        "vacuum_table",
        "Vacuum and analyze a table to reclaim storage.",
        {"table": "Table name"},
    ),
    # web search / fetch
    (
        "web",
        "fetch",
        "Fetch a URL from the internet and extract its contents as markdown.",
        {"url": "URL to fetch", "max_length": "Maximum characters"},
    ),
    (
        "web",
        "web_search",
        "Search the web for pages matching a query.",
        {"query": "Search terms", "count": "Number of results"},
    ),
    (
        "web",
        "news_search",
        "Search recent news articles.",
        {"query": "Search terms", "freshness": "Time window"},
    ),
    ("web", "image_search", "Search the web for images.", {"query": "Search terms"}),
    (
        "web",
        "local_search",
        "Search for local businesses and places near a location.",
        {"query": "What to find", "location": "Where"},
    ),
    ("web", "fetch_robots", "Fetch and parse the robots.txt of a site.", {"url": "Site URL"}),
    ("web", "extract_links", "Extract all hyperlinks from a web page.", {"url": "Page URL"}),
    ("web", "summarize_page", "Summarize the text of a web page.", {"url": "Page URL"}),
    ("web", "check_url_status", "Check the HTTP status code of a URL.", {"url": "URL to check"}),
    (
        "web",
        "download_file",
        "Download a file from a URL to the local disk.",
        {"url": "URL", "destination": "Local path"},
    ),
    # slack / chat
    (
        "slack",
        "slack_post_message",
        "Post a new message to a Slack channel.",
        {"channel_id": "Channel", "text": "Message text"},
    ),
    (
        "slack",
        "slack_reply_to_thread",
        "Reply to a specific message thread in Slack.",
        {"channel_id": "Channel", "thread_ts": "Thread timestamp", "text": "Reply"},
    ),
    (
        "slack",
        "slack_list_channels",
        "List public channels in the workspace.",
        {"limit": "How many"},
    ),
    (
        "slack",
        "slack_get_channel_history",
        "Get recent messages from a channel.",
        {"channel_id": "Channel", "limit": "How many"},
    ),
    (
        "slack",
        "slack_add_reaction",
        "Add an emoji reaction to a message.",
        {"name": "Emoji name", "timestamp": "Message timestamp"},
    ),
    ("slack", "slack_get_users", "List the users of the workspace with their profiles.", {}),
    ("slack", "slack_get_user_profile", "Get the detailed profile of a user.", {"user_id": "User"}),
    (
        "slack",
        "slack_get_thread_replies",
        "Get all replies in a message thread.",
        {"thread_ts": "Thread timestamp"},
    ),
    (
        "slack",
        "slack_search_messages",
        "Search messages across channels.",
        {"query": "Search terms"},
    ),
    (
        "slack",
        "slack_set_status",
        "Set your Slack status text and emoji.",
        {"status_text": "Status", "emoji": "Emoji"},
    ),
    # calendar / email
    (
        "google",
        "calendar_list_events",
        "List upcoming events from the Google Calendar.",
        {"timeMin": "Start", "timeMax": "End"},
    ),
    (
        "google",
        "calendar_create_event",
        "Create a calendar event with attendees and a time.",
        {"summary": "Title", "start": "Start time", "end": "End time", "attendees": "Emails"},
    ),
    ("google", "calendar_delete_event", "Delete an event from the calendar.", {"eventId": "Event"}),
    (
        "google",
        "calendar_find_free_time",
        "Find free time slots across calendars for a meeting.",
        {"duration": "Minutes"},
    ),
    (
        "google",
        "gmail_send_email",
        "Send an email message with Gmail.",
        {"to": "Recipients", "subject": "Subject", "body": "Body"},
    ),
    (
        "google",
        "gmail_search_emails",
        "Search emails in the mailbox with Gmail query syntax.",
        {"query": "Gmail query"},
    ),
    (
        "google",
        "gmail_read_email",
        "Read the content of an email message.",
        {"messageId": "Message"},
    ),
    (
        "google",
        "gmail_create_draft",
        "Create a draft email without sending it.",
        {"to": "Recipients", "body": "Body"},
    ),
    (
        "google",
        "drive_search_files",
        "Search for documents in Google Drive.",
        {"query": "Search terms"},
    ),
    (
        "google",
        "sheets_read_range",
        "Read a range of cells from a Google Sheets spreadsheet.",
        {"spreadsheetId": "Spreadsheet", "range": "A1 notation"},
    ),
    # cloud / kubernetes
    (
        "k8s",
        "kubectl_get",
        "Get or list Kubernetes resources such as pods, services and deployments.",
        {"resourceType": "Kind", "namespace": "Namespace"},
    ),
    (
        "k8s",
        "kubectl_describe",
        "Describe a Kubernetes resource in detail.",
        {"resourceType": "Kind", "name": "Name"},
    ),
    (
        "k8s",
        "kubectl_logs",
        "Get the logs of a pod container.",
        {"name": "Pod", "container": "Container", "tail": "Lines"},
    ),
    ("k8s", "kubectl_apply", "Apply a YAML manifest to the cluster.", {"manifest": "YAML"}),
    (
        "k8s",
        "kubectl_delete",
        "Delete Kubernetes resources.",
        {"resourceType": "Kind", "name": "Name"},
    ),
    (
        "k8s",
        "kubectl_scale",
        "Scale a deployment to a number of replicas.",
        {"name": "Deployment", "replicas": "Count"},
    ),
    (
        "k8s",
        "kubectl_rollout_restart",
        "Restart the pods of a deployment with a rollout.",
        {"name": "Deployment"},
    ),
    (
        "k8s",
        "helm_install",
        "Install a Helm chart as a release.",
        {"chart": "Chart", "release": "Release name"},
    ),
    (
        "k8s",
        "port_forward",
        "Forward a local port to a pod.",
        {"resource": "Pod or service", "localPort": "Local port"},
    ),
    ("k8s", "list_contexts", "List the kubeconfig contexts and the current one.", {}),
    # time / weather / maps
    (
        "util",
        "get_current_time",
        "Get the current time in a specific timezone.",
        {"timezone": "IANA timezone name"},
    ),
    (
        "util",
        "convert_time",
        "Convert a time between timezones.",
        {"source_timezone": "From", "time": "HH:MM", "target_timezone": "To"},
    ),
    (
        "util",
        "get_weather_forecast",
        "Get the weather forecast for a location.",
        {"latitude": "Latitude", "longitude": "Longitude"},
    ),
    (
        "util",
        "get_weather_alerts",
        "Get active weather alerts for a US state.",
        {"state": "Two-letter code"},
    ),
    (
        "util",
        "maps_geocode",
        "Convert an address into geographic coordinates.",
        {"address": "Street address"},
    ),
    (
        "util",
        "maps_directions",
        "Get driving, walking or transit directions between two places.",
        {"origin": "From", "destination": "To", "mode": "Travel mode"},
    ),
    (
        "util",
        "maps_distance_matrix",
        "Calculate travel distances and times between points.",
        {"origins": "Starts", "destinations": "Ends"},
    ),
    (
        "util",
        "currency_convert",
        "Convert an amount between currencies at today's rate.",
        {"amount": "Amount", "from": "Currency", "to": "Currency"},
    ),
    ("util", "calculator", "Evaluate a mathematical expression.", {"expression": "Expression"}),
    ("util", "generate_uuid", "Generate a random UUID.", {}),
    # issue tracking / docs
    (
        "jira",
        "jira_create_issue",
        "Create a Jira ticket in a project.",
        {"project": "Project key", "summary": "Summary", "issueType": "Bug, Task or Story"},
    ),
    ("jira", "jira_search", "Search Jira issues with JQL.", {"jql": "JQL query"}),
    (
        "jira",
        "jira_transition_issue",
        "Move a Jira issue to another status.",
        {"issueKey": "Issue", "transition": "Status"},
    ),
    (
        "jira",
        "jira_add_comment",
        "Comment on a Jira issue.",
        {"issueKey": "Issue", "body": "Comment"},
    ),
    (
        "jira",
        "jira_get_sprint",
        "Get the issues of the active sprint of a board.",
        {"boardId": "Board"},
    ),
    ("jira", "confluence_search", "Search Confluence pages.", {"query": "CQL or text"}),
    ("jira", "confluence_get_page", "Get a Confluence page's content.", {"pageId": "Page"}),
    (
        "jira",
        "confluence_create_page",
        "Create a new Confluence page in a space.",
        {"space": "Space key", "title": "Title", "body": "Content"},
    ),
    (
        "jira",
        "jira_assign_issue",
        "Assign a Jira issue to a user.",
        {"issueKey": "Issue", "assignee": "User"},
    ),
    (
        "jira",
        "jira_log_work",
        "Log time spent working on an issue.",
        {"issueKey": "Issue", "timeSpent": "Like 2h 30m"},
    ),
]


def tools() -> list[tuple[str, str, dict[str, object]]]:
    """The 120 tools as (server, original name, tool definition)."""
    return [
        (
            server,
            name,
            {
                "name": name,
                "description": description,
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        key: {"type": "string", "description": text} for key, text in params.items()
                    },
                },
            },
        )
        for server, name, description, params in _TOOLS
    ]


def rows() -> list[SearchRow]:
    """The 120 tools as search rows, named C{<server>__<tool>}."""
    from mcpgateway.core.aggregate.search import rowFromTool

    return [rowFromTool(f"{server}__{name}", server, tool) for server, name, tool in tools()]
