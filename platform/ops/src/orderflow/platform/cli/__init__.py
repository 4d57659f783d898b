"""The ``orderflow`` command line: one console script for the platform team's tools."""

from __future__ import annotations

from orderflow.platform.cli.main import cli, main

__all__ = ["cli", "main"]
