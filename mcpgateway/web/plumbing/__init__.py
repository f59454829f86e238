# -*- test-case-name: tests.web -*-
"""The HTTP plumbing every endpoint stands on: the channel and its request,
headers, bounds and body limits, Server-Sent Events and their replay, JSON
answers, authentication."""
