"""``orderflow up`` and ``orderflow demo``: the local runtime from the command line."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.live import Live

from orderflow.contracts import SERVICES
from orderflow.local.demo import BlackFriday, DemoOptions, render_report
from orderflow.local.runtime import (
    DEFAULT_STATE_DIR,
    LOCAL_FILE,
    LocalRuntime,
    RuntimeOptions,
)
from orderflow.local.status import (
    DenialWatch,
    denial_line,
    init_line,
    service_statuses,
    status_table,
)
from orderflow.platform.cli.state import CliState, common_options

if TYPE_CHECKING:
    from orderflow.local.pollers import InvocationReport

LOCAL_STAGE = "local"
STATUS_SECONDS = 2.0


def local_state(ctx: click.Context) -> CliState:
    """The invocation's options; the stage is the local runtime's own unless one was chosen."""
    state = ctx.ensure_object(CliState)
    defaults = {ParameterSource.DEFAULT, None}
    chosen = ctx.get_parameter_source("stage") not in defaults
    if not chosen and ctx.find_root().get_parameter_source("stage") in defaults:
        # Nobody chose a stage (before or after the command): not the group's "dev".
        state.stage = LOCAL_STAGE
    return state


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        # Logs and CI: long lines rather than an 80-column wrap of every timeline entry.
        console = Console(stderr=stderr, highlight=False, width=160)
    return console


def _stop_on_sigterm() -> threading.Event:
    """SIGTERM, or the terminal going away (SIGHUP), stops as cleanly as Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    return stop


max_concurrency_option = click.option(
    "--max-concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Ceiling on each function's concurrent environments. Default: the concurrency its "
    "template gives it (ScalingConfig.MaximumConcurrency), as far as this machine's memory "
    "holds, and at least 2.",
)
"""``up`` and ``demo`` alike: how many environments each function may run at once."""

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help=f"Where {LOCAL_FILE} and the run's logs go.",
)
"""``up`` and ``demo`` alike: where the run's state and logs go."""


gateway_option = click.option(
    "--gateway",
    type=click.Choice(["simulated", "stripe"]),
    default="simulated",
    show_default=True,
    help="payment's card provider: the simulated gateway (fault injection), or Stripe played "
    "by localstripe beside the embedded AWS.",
)
"""``up`` and ``demo`` alike: which card provider payment runs against."""

iam_option = click.option(
    "--iam",
    type=click.Choice(["off", "record", "enforce"]),
    default=None,
    help="IAM in the embedded AWS: enforce (a request the caller's role does not allow is "
    "denied as AWS denies it), record (decided and recorded, never denied) or off. Default: "
    "$ORDERFLOW_IAM, else enforce. Functions run with their own roles either way.",
)
"""``up`` and ``demo`` alike: how the embedded AWS treats the roles' requests."""


@click.command(short_help="Run the whole pipeline locally (embedded AWS, no Docker).")
@click.option(
    "--clock-factor",
    type=click.FloatRange(min=1),
    default=1.0,
    show_default=True,
    help="Run AWS durations (visibility timeouts, alarm periods, function timeouts) this much "
    "faster.",
)
@max_concurrency_option
@state_dir_option
@gateway_option
@iam_option
@common_options
@click.pass_context
def up(
    ctx: click.Context,
    *,
    clock_factor: float,
    max_concurrency: int | None,
    state_dir: Path,
    gateway: str,
    iam: str | None,
) -> None:
    """Start the embedded AWS, deploy every stack from its template, sync the alarms and run
    the functions until Ctrl-C (or SIGTERM).

    The endpoint and every resource name are written to STATE_DIR/local.json; the stage is
    `local` unless --stage says otherwise. Point other commands at it with the environment
    it prints.
    """
    state = local_state(ctx)
    stage = state.stage
    console = _console(stderr=state.json)
    runtime = LocalRuntime(
        RuntimeOptions(
            stage=stage,
            region=state.region or "us-east-1",
            clock_factor=clock_factor,
            state_dir=state_dir,
            max_concurrency=max_concurrency,
            gateway=gateway,
            iam=iam,
        )
    )
    stop = _stop_on_sigterm()
    try:
        resources = runtime.start(progress=lambda text: console.print(f"[dim]up[/dim] {text}"))
        if state.json:
            click.echo(resources.to_json())
        else:
            exports = " ".join(f"{k}={v}" for k, v in resources.env().items())
            console.print(
                f"[bold green]orderflow {stage} is up[/bold green]: {state_dir / LOCAL_FILE}"
            )
            console.print(f"other shells: [bold]export {exports}[/bold]")
            console.print("Ctrl-C stops everything.")
        live = not state.json and console.is_terminal
        if not live:  # no live table and its INIT column: a line per environment's init
            for worker in runtime.workers.values():
                worker.listeners.append(lambda report: _print_init(console, report))
        _watch(runtime, console, stop, live=live)
    except KeyboardInterrupt:
        pass
    finally:
        # The terminal may be gone (SIGHUP): printing must never keep the cleanup from running.
        with contextlib.suppress(OSError):
            console.print("[dim]stopping[/dim]")
        runtime.stop()
        with contextlib.suppress(OSError):
            console.print("[dim]stopped[/dim]")


def _watch(runtime: LocalRuntime, console: Console, stop: threading.Event, *, live: bool) -> None:
    title = f"orderflow {runtime.options.stage} (clock x{runtime.clock.factor:g})"
    denials = DenialWatch(runtime.aws.inspect)
    label = "iam (recording only)" if runtime.iam == "record" else "iam"
    if not live:
        while not stop.wait(STATUS_SECONDS):
            _check_workers(runtime)
            _print_denials(console, denials, label)
        return
    with Live(console=console, refresh_per_second=1) as display:
        while not stop.wait(STATUS_SECONDS):
            _check_workers(runtime)
            _print_denials(console, denials, label)  # printed above the live table
            display.update(status_table(title, service_statuses(runtime)))


def _print_denials(console: Console, denials: DenialWatch, label: str) -> None:
    for decision in denials.new():
        with contextlib.suppress(OSError):
            console.print(f"[bold red]{label}[/bold red] {denial_line(decision)}", soft_wrap=True)


def _print_init(console: Console, report: InvocationReport) -> None:
    line = init_line(report)
    if line is not None:
        with contextlib.suppress(OSError):
            console.print(f"[dim]init[/dim] {line}")


def _check_workers(runtime: LocalRuntime) -> None:
    dead = [name for name, worker in runtime.workers.items() if not worker.alive]
    if dead:
        raise click.ClickException(
            f"function worker(s) stopped: {', '.join(dead)}; see {runtime.run_dir}"
        )


@click.command(short_help="Black Friday on the local runtime, ending in a reconciliation.")
@click.option("--orders", type=click.IntRange(min=5), default=DemoOptions.orders, show_default=True)
@click.option(
    "--clock-factor",
    type=click.FloatRange(min=1),
    default=DemoOptions.clock_factor,
    show_default=True,
    help="How much faster than AWS time the demo runs.",
)
@click.option(
    "--bug-service",
    type=click.Choice(SERVICES),
    default=DemoOptions.bug_service,
    show_default=True,
    help="The consumer whose release cannot handle a dozen orders.",
)
@click.option("--seed", type=int, default=DemoOptions.seed, show_default=True)
@max_concurrency_option
@state_dir_option
@gateway_option
@iam_option
@common_options
@click.pass_context
def demo(
    ctx: click.Context,
    *,
    orders: int,
    clock_factor: float,
    bug_service: str,
    seed: int,
    max_concurrency: int | None,
    state_dir: Path,
    gateway: str,
    iam: str | None,
) -> None:
    """Bring the pipeline up and play Black Friday: a burst of orders, a slow email provider,
    analytics falling behind, a consumer bug that parks a dozen orders in a DLQ, the page, the
    fix and the redrive, the alarm back to OK; then reconcile every service's records.

    Exits 0 only if everything reconciles. --json prints the reconciliation.
    """
    state = local_state(ctx)
    console = _console(stderr=state.json)
    options = DemoOptions(
        stage=state.stage,
        orders=orders,
        clock_factor=clock_factor,
        bug_service=bug_service,
        seed=seed,
        max_concurrency=max_concurrency,
        state_dir=state_dir,
        gateway=gateway,
        iam=iam,
    )
    _stop_on_sigterm_raises()
    started = time.monotonic()
    report = BlackFriday(options, console=console).run()
    took = time.monotonic() - started
    if state.json:
        click.echo(json.dumps({**report.as_dict(), "seconds": round(took, 1)}, indent=2))
    else:
        render_report(console, report)
        console.print(f"[dim]demo took {took:.0f}s[/dim]")
    if not report.ok:
        raise SystemExit(1)


def _stop_on_sigterm_raises() -> None:
    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
