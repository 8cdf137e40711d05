"""Writes for live sessions, grouped by domain."""
