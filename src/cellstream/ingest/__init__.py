"""Ingestion: read → validate → append (one atomic batch) → notify subscribers after commit."""
