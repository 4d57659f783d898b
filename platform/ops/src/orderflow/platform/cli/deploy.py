"""``orderflow deploy SERVICE|platform``: sam deploy with the package's samconfig."""

from __future__ import annotations

from pathlib import Path

import click

from orderflow.platform.aws import AwsClients
from orderflow.platform.cli.state import CliState, common_options, pass_state
from orderflow.platform.deploy import (
    TARGETS,
    deploy_region,
    deploy_target,
    require_platform,
    run_deploy,
    sam_deploy_command,
    sam_environment,
    sam_stage,
)
from orderflow.platform.workspace import workspace_root


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

    Service code must be built first: nox -s "build(service='payment')". Before SAM runs:
    the stage's region (pinned in samconfig.toml; another --region is refused), credentials
    (STS) and, for a service, the platform stack of that stage and region.
    """
    package = deploy_target(target, root or workspace_root())
    stage = sam_stage(package, state.stage)
    region = deploy_region(package, stage, state.region)
    aws = AwsClients(state.endpoint_url, region)
    account = aws.caller_account()
    if package.needs_build:
        require_platform(aws.ssm(), package, stage, region)
    command = sam_deploy_command(state.stage, region)
    state.out.line(f"deploying {target} to {state.stage} in account {account}, {region}")
    code = run_deploy(package, command, sam_environment(state.endpoint_url))
    if code:
        raise click.ClickException(f"sam deploy of {target} failed (exit {code})")
