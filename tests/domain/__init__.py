"""Domain service tests (authentication, tokens)."""
