"""``orderflow up`` and ``orderflow demo``: the local runtime from the command line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

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


FORCE_AFTER_INTERRUPTS = 3
INTERRUPTED_EXIT = 128 + signal.SIGINT
"""A forced or interrupted stop exits as a process ended by SIGINT would (130)."""


class ForcedStop(BaseException):
    """A third interrupt: stop without waiting for the cleanup (``LocalRuntime.kill``)."""


class StopSignals:
    """How ``up`` and ``demo`` take an interrupt, however it arrives.

    The first SIGINT interrupts what runs (``KeyboardInterrupt``) and the clean stop begins.
    While it runs, a second SIGINT does not abort it: ``uv run`` without a terminal forwards one
    about 200 ms after the first, and an impatient Ctrl-C is no reason to leave processes
    behind. A third forces: ``ForcedStop`` is raised, and the command kills what it started.
    SIGTERM and SIGHUP (the terminal going away) stop as cleanly as Ctrl-C: ``up`` sets
    ``stop`` and leaves its watch loop; ``raising=True`` (the demo) interrupts like a SIGINT.
    """

    def __init__(self, *, raising: bool = False) -> None:
        self.stop = threading.Event()
        self.interrupts = 0
        self.stopping = False
        self._raising = raising

    def install(self) -> StopSignals:
        signal.signal(signal.SIGINT, self._interrupt)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._terminate)
        return self

    def cleanup_begins(self) -> None:
        """From now on an interrupt never aborts what runs, until the third."""
        self.stopping = True

    def _interrupt(self, signum: int, frame: object) -> None:
        self.interrupts += 1
        if not self.stopping:
            self.stopping = True
            raise KeyboardInterrupt
        if self.interrupts >= FORCE_AFTER_INTERRUPTS:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise ForcedStop
        # Written straight to the descriptor: a signal handler must not re-enter the console.
        _say("still stopping cleanly; Ctrl-C again kills every process at once")

    def _terminate(self, signum: int, frame: object) -> None:
        self.stop.set()
        if self._raising and not self.stopping:
            self.stopping = True
            raise KeyboardInterrupt


def run_until_stopped(
    signals: StopSignals,
    work: Callable[[], None],
    cleanup: Callable[[], None],
    kill: Callable[[], None],
) -> None:
    """Run ``work`` until it returns or is interrupted, then ``cleanup`` to the end.

    No interrupt during the cleanup aborts it, except the third (``FORCE_AFTER_INTERRUPTS``):
    then ``kill`` stops everything at once and the process exits 130.
    """
    try:
        try:
            work()
        except KeyboardInterrupt:
            pass
        finally:
            signals.cleanup_begins()
            cleanup()
    except ForcedStop:
        kill()
        _say("forced: every process of the run killed")
        raise SystemExit(INTERRUPTED_EXIT) from None


def _say(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"{text}\n".encode())


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
    signals = StopSignals().install()

    def work() -> None:
        _serve(runtime, console, signals, state, stage=stage, state_dir=state_dir)

    def cleanup() -> None:
        # The terminal may be gone (SIGHUP): printing must never keep the cleanup from running.
        with contextlib.suppress(OSError):
            console.print("[dim]stopping[/dim]")
        runtime.stop()
        with contextlib.suppress(OSError):
            console.print("[dim]stopped[/dim]")

    run_until_stopped(signals, work, cleanup, runtime.kill)


def _serve(
    runtime: LocalRuntime,
    console: Console,
    signals: StopSignals,
    state: CliState,
    *,
    stage: str,
    state_dir: Path,
) -> None:
    """Start everything and watch it until a stop signal."""
    resources = runtime.start(progress=lambda text: console.print(f"[dim]up[/dim] {text}"))
    if state.json:
        click.echo(resources.to_json())
    else:
        exports = " ".join(f"{k}={v}" for k, v in resources.env().items())
        console.print(f"[bold green]orderflow {stage} is up[/bold green]: {state_dir / LOCAL_FILE}")
        console.print(f"other shells: [bold]export {exports}[/bold]")
        console.print("Ctrl-C stops everything.")
    live = not state.json and console.is_terminal
    if not live:  # no live table and its INIT column: a line per environment's init
        for worker in runtime.workers.values():
            worker.listeners.append(lambda report: _print_init(console, report))
    _watch(runtime, console, signals.stop, live=live)


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
@click.option(
    "--publishers",
    type=click.IntRange(min=1, max=64),
    default=DemoOptions.publishers,
    show_default=True,
    help="Publishers sending the burst at once (one order's events stay in order).",
)
@click.option(
    "--lag-alarm/--no-lag-alarm",
    default=DemoOptions.lag_alarm,
    show_default=True,
    help="Hold analytics back until its queue-age alarm (a limit of hours) fires on the "
    "emulator clock, however long that takes, before it catches up.",
)
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
    publishers: int,
    lag_alarm: bool,
    max_concurrency: int | None,
    state_dir: Path,
    gateway: str,
    iam: str | None,
) -> None:
    """Bring the pipeline up and play Black Friday: a burst of orders, a slow email provider,
    analytics held back and catching up, a consumer bug that parks a dozen orders in a DLQ, the
    page, the fix and the redrive, the alarm back to OK; then reconcile every service's records.

    Exits 0 only if everything reconciles (130 if interrupted). --json prints the
    reconciliation, the time per step and the publishing rate on stdout; the timeline and
    progress go to stderr.
    """
    state = local_state(ctx)
    console = _console(stderr=state.json)
    options = DemoOptions(
        stage=state.stage,
        orders=orders,
        clock_factor=clock_factor,
        bug_service=bug_service,
        seed=seed,
        publishers=publishers,
        lag_alarm=lag_alarm,
        max_concurrency=max_concurrency,
        state_dir=state_dir,
        gateway=gateway,
        iam=iam,
    )
    signals = StopSignals(raising=True).install()
    started = time.monotonic()
    black_friday = BlackFriday(options, console=console, on_cleanup=signals.cleanup_begins)
    try:
        report = black_friday.run()
    except KeyboardInterrupt:
        _say("demo interrupted; everything it started is stopped")
        raise SystemExit(INTERRUPTED_EXIT) from None
    except ForcedStop:
        black_friday.runtime.kill()
        _say("forced: every process of the run killed")
        raise SystemExit(INTERRUPTED_EXIT) from None
    took = time.monotonic() - started
    if state.json:
        click.echo(json.dumps({**report.as_dict(), "seconds": round(took, 1)}, indent=2))
    else:
        render_report(console, report)
        console.print(f"[dim]demo took {took:.0f}s[/dim]")
    if not report.ok:
        raise SystemExit(1)
