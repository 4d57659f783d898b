"""Benchmarks: cold start, per-record cost, pipeline throughput, artifact size, cost per order.

Run with ``nox -s bench`` (which builds what the figures need) or ``python -m
orderflow.bench``. Every figure is a ratio against a floor measured in the same run.
"""
