"""Benchmarks, run as scripts (`python bench/<script>.py`).

A package so that its modules have names of their own: `bench.certificates`, not a second `certificates`
(which mypy would refuse), and so that one script can import another (`from bench.live_load import ...`).
"""
