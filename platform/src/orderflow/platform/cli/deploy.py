"""``orderflow deploy SERVICE|platform``: sam deploy with the package's samconfig."""

from __future__ import annotations

from pathlib import Path

import click

from orderflow.platform.cli.state import CliState, common_options, pass_state
from orderflow.platform.deploy import (
    TARGETS,
    deploy_target,
    run_deploy,
    sam_deploy_command,
    workspace_root,
)


@click.command(short_help="Deploy a service or the platform stack with SAM.")
@click.argument("target", metavar=f"{{{'|'.join(TARGETS)}}}")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Repository root (default: found from the current directory).",
)
@common_options
@pass_state
def deploy(state: CliState, target: str, root: Path | None) -> None:
    """Deploy one stack to the stage with sam deploy and its samconfig.toml.

    \b
    orderflow deploy platform --stage dev
    orderflow deploy payment --stage prod

    Service code must be built first: nox -s "build(service='payment')". Credentials are
    checked with STS before SAM runs.
    """
    package = deploy_target(target, root or workspace_root())
    account = state.aws.caller_account()
    command = sam_deploy_command(state.stage, state.region)
    state.out.line(f"deploying {target} to {state.stage} in account {account}")
    code = run_deploy(package, command)
    if code:
        raise click.ClickException(f"sam deploy of {target} failed (exit {code})")
