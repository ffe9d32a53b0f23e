"""Fault injection: real processes, real signals; see conftest.py."""
