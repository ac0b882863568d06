"""Benchmarks: scripts that measure livetap and print their figures (see the README)."""
