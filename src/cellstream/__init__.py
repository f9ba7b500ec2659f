"""Cellstream: an events platform for IoT cellular connectivity, compatible with emnify's event API."""

__version__ = "0.1.0"
