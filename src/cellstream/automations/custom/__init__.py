"""Custom events (facts §G.3): organisation-deployed templates evaluated continuously over the event and
usage logs, each firing a custom event that is stored in the event log like any other."""
