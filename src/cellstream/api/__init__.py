"""The HTTP API: emnify's REST paths (events, authentication, application tokens) plus internal ones."""
