"""Benchmarks against named anchors; never part of the test run (see README.md)."""
