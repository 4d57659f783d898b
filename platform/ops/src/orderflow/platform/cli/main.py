"""The ``orderflow`` group: global options, one-line errors, and the command registrations.

The operator commands are registered here. Commands of other installed distributions (the
local runtime's ``up`` and ``demo``) are entry points in the ``orderflow.commands`` group,
imported only when invoked, so the operator CLI loads none of their modules otherwise.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from orderflow.analytics.domain import AnalyticsError
from orderflow.inventory.admin import StockFileError
from orderflow.inventory.domain import InventoryError
from orderflow.platform.aws import translate
from orderflow.platform.cli.alarms import alarms
from orderflow.platform.cli.analytics import analytics
from orderflow.platform.cli.deploy import deploy
from orderflow.platform.cli.dlq import dlq
from orderflow.platform.cli.incident import incident
from orderflow.platform.cli.publish import load, publish
from orderflow.platform.cli.state import CliState
from orderflow.platform.cli.status import status
from orderflow.platform.cli.stock import stock
from orderflow.platform.cli.trace import trace
from orderflow.platform.errors import PlatformError
from orderflow.settings import ConfigError


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


PLUGIN_GROUP = "orderflow.commands"
PLUGIN_HOMES = {"up": "orderflow-local", "demo": "orderflow-local"}
"""Commands other distributions provide, and which: named when one is not installed."""

OPERATOR_ERRORS: tuple[type[Exception], ...] = (
    PlatformError,
    ConfigError,
    AnalyticsError,
    InventoryError,
    StockFileError,
)
"""Errors that mean bad input or a missing resource: one line and exit 1, never a traceback."""


def _plugins() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=PLUGIN_GROUP)}


class OrderflowGroup(click.Group):
    """A group whose commands fail with one line naming the problem, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        point = _plugins().get(cmd_name)
        if point is None:
            home = PLUGIN_HOMES.get(cmd_name)
            if home is not None:
                raise click.UsageError(
                    f"'orderflow {cmd_name}' comes with {home}, which is not installed: "
                    f"uv run --package {home} orderflow {cmd_name}"
                )
            return None
        loaded = point.load()
        if not isinstance(loaded, click.Command):
            raise click.ClickException(f"entry point {point.value} is not a click command")
        return loaded

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OPERATOR_ERRORS as error:
            raise click.ClickException(_one_line(error)) from error
        except Exception as error:
            state = ctx.find_object(CliState)
            typed = translate(error, state.endpoint_url if state else None)
            if typed is None:
                raise
            raise click.ClickException(_one_line(typed)) from error


@click.group(cls=OrderflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--endpoint-url",
    envvar="AWS_ENDPOINT_URL",
    help="AWS or emulator endpoint, e.g. http://127.0.0.1:5000 (env AWS_ENDPOINT_URL).",
)
@click.option("--region", help="AWS region (default: the AWS configuration's).")
@click.option(
    "--stage",
    default="dev",
    show_default=True,
    envvar="ORDERFLOW_STAGE",
    help="Stage whose resources to work on (env ORDERFLOW_STAGE).",
)
@click.option("--json", "json_mode", is_flag=True, help="Print JSON instead of tables.")
@click.version_option(package_name="orderflow-platform", prog_name="orderflow")
@click.pass_context
def cli(
    ctx: click.Context, endpoint_url: str | None, region: str | None, stage: str, json_mode: bool
) -> None:
    """orderflow: run, watch and repair the order pipeline.

    Works against AWS (default credentials, --region) or an emulator (--endpoint-url).
    Every option above may also follow the command: orderflow dlq ls --stage prod.
    """
    ctx.obj = CliState(endpoint_url=endpoint_url, region=region, stage=stage, json=json_mode)


# The commands, one module per group. Register new ones here.
for command in (status, publish, load, dlq, alarms, incident, trace, analytics, stock, deploy):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="orderflow")
