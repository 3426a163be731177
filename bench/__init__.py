"""Benchmarks: printed figures, never asserts. Run one with `python -m bench.<name>`."""
