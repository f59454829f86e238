"""Many clients on one shared child: each answer, request and notification
reaches the session it belongs to, and only that one."""
