"""Stores: the ports (protocols.py), the in-memory reference implementation and the SQL backends."""
