"""``orderflow deploy``: one package's stack with ``sam deploy`` and that package's samconfig.

Functions are built beforehand by ``nox -s "build(service='<name>')"`` (CodeUri build/package),
so deploy runs no ``sam build``. Credentials are checked with STS first, so a missing or expired
login is one clear line instead of a SAM stack trace.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orderflow.contracts import SERVICES
from orderflow.platform.errors import PlatformError

PLATFORM = "platform"
TARGETS = (*SERVICES, PLATFORM)


class DeployError(PlatformError):
    """The deploy cannot start (unknown target, missing build, no sam CLI)."""


@dataclass(frozen=True)
class DeployTarget:
    """One deployable package: its directory holds template.yaml and samconfig.toml."""

    name: str
    directory: Path

    @property
    def needs_build(self) -> bool:
        """Service stacks ship code from build/package; the platform stack has none."""
        return self.name != PLATFORM


def workspace_root(start: Path | None = None) -> Path:
    """The monorepo root: the nearest directory upwards holding platform/ and services/."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "platform" / "template.yaml").exists() and (
            candidate / "services"
        ).is_dir():
            return candidate
    source = Path(__file__).resolve()
    for candidate in source.parents:
        if (candidate / "platform" / "template.yaml").exists() and (
            candidate / "services"
        ).is_dir():
            return candidate
    raise DeployError("cannot find the orderflow repository (platform/ and services/); run from it")


def deploy_target(name: str, root: Path) -> DeployTarget:
    """The package ``name`` (a service or ``platform``), checked ready to deploy."""
    if name not in TARGETS:
        raise DeployError(f"unknown deploy target {name!r} (known: {', '.join(TARGETS)})")
    directory = root / (PLATFORM if name == PLATFORM else f"services/{name}")
    target = DeployTarget(name, directory)
    for required in ("template.yaml", "samconfig.toml"):
        if not (directory / required).exists():
            raise DeployError(f"{name}: {directory.name}/{required} is missing")
    if target.needs_build and not (directory / "build" / "package").is_dir():
        raise DeployError(f"{name}: no build/package; run nox -s \"build(service='{name}')\" first")
    return target


def sam_deploy_command(stage: str, region: str | None) -> list[str]:
    """The ``sam deploy`` command line for one stage of the package's samconfig."""
    sam = shutil.which("sam")
    if sam is None:
        raise DeployError("the sam CLI is not installed (pip install aws-sam-cli)")
    command = [
        sam,
        "deploy",
        "--config-file",
        "samconfig.toml",
        "--config-env",
        stage,
        "--template-file",
        "template.yaml",
    ]
    if region:
        command += ["--region", region]
    return command


def run_deploy(target: DeployTarget, command: Sequence[str]) -> int:
    """Run the deploy in the package's directory; return its exit code."""
    return subprocess.run(list(command), cwd=target.directory, check=False).returncode  # noqa: S603
