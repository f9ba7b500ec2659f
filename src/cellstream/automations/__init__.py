"""Automations: events as triggers (facts §G). An automation names a trigger (a system event — one per
event type — or a custom event), targeting properties that narrow which events fire it (any field of the
Event API's `q` grammar), and an ordered list of configured actions. The engine follows each
organisation's event log like a data stream does, records an execution for every event that fires an
automation, and runs the actions of executions apart from the log, with retries, so a slow action never
holds back ingestion or another automation."""
