"""``python -m orderflow.bench``: run the benchmarks, print the table, write the JSON.

``nox -s bench`` builds the artifacts, unpacks them beside the runtime's own packages, and runs
this from the checkout with the Lambda runtime's Python for the cold start.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from orderflow.bench import suite
from orderflow.bench.report import closing_notes, table, write_results
from orderflow.bench.settings import all_function_settings
from orderflow.bench.stats import BenchError
from orderflow.bench.traffic import reference_traffic

BENCHMARKS = ("cold-start", "records", "throughput", "call-cost", "http-front", "artifacts", "cost")
MIN_COLD_START_RUNS = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m orderflow.bench",
        description="orderflow benchmarks: every figure a ratio against a floor of the same run",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the checkout (default: .)")
    parser.add_argument(
        "--out", type=Path, default=None, help="results folder (default: ROOT/bench-results)"
    )
    parser.add_argument(
        "--skip", action="append", choices=BENCHMARKS, default=[], help="leave one out"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the Lambda runtime's interpreter, for the cold start (default: this one)",
    )
    parser.add_argument("--cold-start-runs", type=int, default=11)
    parser.add_argument("--record-runs", type=int, default=7)
    parser.add_argument("--throughput-runs", type=int, default=3)
    parser.add_argument(
        "--throughput-orders", type=int, default=200, help="orders per throughput run"
    )
    parser.add_argument(
        "--throughput-large-orders",
        type=int,
        default=5000,
        help="orders of the one large pipeline run",
    )
    parser.add_argument(
        "--plain-moto-orders",
        type=int,
        default=40,
        help="orders of the pipeline run on plain moto",
    )
    parser.add_argument("--call-cost-calls", type=int, default=15, help="timed calls per size")
    parser.add_argument("--orders", type=int, default=100, help="reference traffic size")
    args = parser.parse_args(argv)
    if args.cold_start_runs < MIN_COLD_START_RUNS:
        parser.error(f"--cold-start-runs must be at least {MIN_COLD_START_RUNS}")
    for name in (
        "record_runs",
        "throughput_runs",
        "throughput_orders",
        "throughput_large_orders",
        "plain_moto_orders",
        "call_cost_calls",
        "orders",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not (args.root / "services").is_dir() or not (args.root / "platform").is_dir():
        parser.error(f"{args.root} is not an orderflow checkout (no services/ and platform/)")
    return args


def interpreter_version(python: str) -> str:
    """``major.minor`` of the interpreter at ``python``; raise naming it if it does not run."""
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run(  # noqa: S603  (an interpreter the caller named)
            [python, "-c", code], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"--python {python} does not run: {exc}") from exc
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark not skipped; exit 1 if any figure could not be measured."""
    args = parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "bench-results").resolve()
    try:
        python_version = interpreter_version(args.python)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    options = suite.Options(
        root=root,
        images=out / "images",
        runtime=out / "runtime",
        python=args.python,
        python_version=python_version,
        artifacts=out / "artifacts",
        state_dir=out / "local",
        orders=args.orders,
        cold_start_runs=args.cold_start_runs,
        record_runs=args.record_runs,
        throughput_orders=args.throughput_orders,
        throughput_runs=args.throughput_runs,
        throughput_large_orders=args.throughput_large_orders,
        plain_moto_orders=args.plain_moto_orders,
        call_cost_calls=args.call_cost_calls,
    )
    started = time.monotonic()
    try:
        settings = all_function_settings(root)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    traffic = reference_traffic(options.orders, options.seed)
    results = suite.Results()
    steps: list[tuple[str, str, Callable[[], None]]] = [
        ("artifacts", "artifact sizes", lambda: suite.artifacts(options, results)),
        ("records", "per-record cost", lambda: suite.record_cost(options, traffic, results)),
        ("cost", "request census", lambda: suite.take_censuses(options, results)),
        ("cost", "cost model", lambda: suite.aws_cost(settings, traffic, results)),
        ("cold-start", "cold start", lambda: suite.cold_start(options, settings, results)),
        ("throughput", "local throughput", lambda: suite.throughput(options, traffic, results)),
        ("call-cost", "cost per call", lambda: suite.call_cost(options, results)),
        ("http-front", "HTTP front", lambda: suite.http_front_cost(options, results)),
    ]
    for name, title, step in steps:
        if name not in args.skip:
            print(f"bench: {title}...", file=sys.stderr, flush=True)
            step()
    figures = results.ordered()
    notes = closing_notes(figures, results.notes)
    print(table(figures))
    if notes:
        print()
        print(notes)
    run = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "python": platform.python_version(),
        "lambda_python": options.python_version,
        "cpus": os.cpu_count(),
        "orders": options.orders,
        "cold_start_runs": options.cold_start_runs,
        "record_runs": options.record_runs,
        "throughput_runs": options.throughput_runs,
        "throughput_orders": options.throughput_orders,
        "throughput_large_orders": options.throughput_large_orders,
        "plain_moto_orders": options.plain_moto_orders,
        "call_cost_calls": options.call_cost_calls,
        "skipped": sorted(set(args.skip)),
    }
    path = write_results(out, figures, results.notes, run)
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    print(f"\nbench: {len(figures)} figures in {run['seconds']} s; {shown}", file=sys.stderr)
    return 1 if any(f.value is None for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
