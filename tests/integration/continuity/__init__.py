"""Sessions and children outliving the gateway's process: restarts, crashes,
drains and stop signals, with the logs and the audit chain carried across."""
