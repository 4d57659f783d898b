"""What every command shares: where AWS is, which stage, and how to print."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orderflow.platform.aws import AwsClients

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """The global options, after any per-command override."""

    endpoint_url: str | None = None
    region: str | None = None
    stage: str = "dev"
    json: bool = False
    _aws: AwsClients | None = field(default=None, repr=False)

    @property
    def aws(self) -> AwsClients:
        """Clients for the chosen endpoint and region (built on first use)."""
        if self._aws is None:
            self._aws = AwsClients(self.endpoint_url, self.region)
        return self._aws

    @property
    def out(self) -> Output:
        """The printer for this invocation."""
        return Output(self.json)


def _override(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    # A per-command option wins over the same option given before the command.
    if value is None or value is False:
        return
    state = ctx.find_object(CliState)
    if state is None:
        state = ctx.ensure_object(CliState)
    setattr(state, str(param.name), value)


def common_options(command: F) -> F:
    """Accept the global options after the command too: ``orderflow dlq ls --stage prod``."""
    options = [
        click.option(
            "--endpoint-url",
            callback=_override,
            expose_value=False,
            help="AWS or emulator endpoint (default: AWS_ENDPOINT_URL, else AWS).",
        ),
        click.option("--region", callback=_override, expose_value=False, help="AWS region."),
        click.option(
            "--stage", callback=_override, expose_value=False, help="Stage (default dev)."
        ),
        click.option(
            "--json",
            "json",
            is_flag=True,
            default=False,
            callback=_override,
            expose_value=False,
            help="Print JSON for machines.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


pass_state = click.make_pass_decorator(CliState, ensure=True)


class Output:
    """Human tables by default, JSON with ``--json``."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.console = Console(highlight=False, soft_wrap=False)

    def emit(self, data: Any, human: Callable[[Console], None]) -> None:
        """Print ``data`` as JSON, or call ``human`` to render it."""
        if self.json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            human(self.console)

    def line(self, text: str) -> None:
        """One line for humans (nothing in JSON mode)."""
        if not self.json:
            self.console.print(text)

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int, int], None]]:
        """A progress bar on a terminal; elsewhere (pipes, JSON) a silent callback."""
        if self.json or not self.console.is_terminal:
            yield lambda _done, _total: None
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console) as bar:
            task = bar.add_task(description, total=total)

            def advance(done: int, total_now: int) -> None:
                bar.update(task, completed=done, total=total_now)

            yield advance


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table with ``columns`` headers; None cells print as '-'."""
    rendered = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        rendered.add_column(column, overflow="fold")
    for row in rows:
        rendered.add_row(*("-" if cell is None else str(cell) for cell in row))
    return rendered


def age(seconds: int | None) -> str:
    """``93`` -> ``1m33s``; None -> ``-``."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
