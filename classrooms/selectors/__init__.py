"""Reads for live sessions and rooms, grouped by domain (as `classrooms/services/` is)."""
